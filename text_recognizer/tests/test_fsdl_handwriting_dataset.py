"""The FSDL handwriting export as mirrored, and downloading its page images from a local server."""

import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from text_recognizer.datasets import FsdlHandwritingDataset
from text_recognizer.datasets import dataset as dataset_module
from text_recognizer.datasets.dataset import DataError
from text_recognizer.datasets.fsdl_handwriting_dataset import FsdlPage, page_id_from_url, parse_export
from text_recognizer.tests.support.local_http import QuietHandler, serve_locally

FIRST_PAGE_ID = "85a46e90-8af1-48fe-9e75-d18f7f05d6e9___a01-000u"


@pytest.fixture(scope="module")
def dataset() -> FsdlHandwritingDataset:
    data = FsdlHandwritingDataset()
    data.load_or_generate_data()
    return data


def test_export_pages_and_lines(dataset: FsdlHandwritingDataset) -> None:
    assert len(dataset.pages) == 85
    assert len({page.id for page in dataset.pages}) == 85
    lines = [line for page in dataset.pages for line in page.lines]
    assert len(lines) == 452  # 455 annotations, less two one-point polygons and a zero-height rectangle
    assert dataset.num_skipped == 3
    assert sum(bool(line.text) for line in lines) == 315
    assert sum(not page.lines for page in dataset.pages) == 16  # 12 null annotations, 4 empty lists
    assert all(
        0 <= x and 0 <= y and 0 < w and 0 < h and x + w <= 1 and y + h <= 1
        for x, y, w, h in (line.box for line in lines)
    )


def test_known_line(dataset: FsdlHandwritingDataset) -> None:
    page = dataset.pages[0]
    assert page.id == FIRST_PAGE_ID and page.extension == ".jpg"
    assert page.url.endswith(f"/{FIRST_PAGE_ID}.jpg")
    line = page.lines[0]
    assert line.text == "A MOVE to stop Mr. Gaitskiell from"
    assert line.shape == "rectangle"
    # Points (0.14229, 0.18949) to (0.87549, 0.25035) as fractions of the page, x to the right, y down.
    assert line.box == pytest.approx((0.142292, 0.189488, 0.733202, 0.060858), abs=1e-6)
    assert dataset.line_strings_by_id[FIRST_PAGE_ID][:2] == [
        "A MOVE to stop Mr. Gaitskiell from",
        "nominating any more Labour life Peers",
    ]
    assert dataset.line_regions_by_id[FIRST_PAGE_ID][0] == line.box
    assert dataset.line_regions_by_id.keys() == dataset.line_strings_by_id.keys() == {p.id for p in dataset.pages}


def test_lines_are_in_reading_order(dataset: FsdlHandwritingDataset) -> None:
    for page in dataset.pages:
        tops = [line.box[1] for line in page.lines]
        assert tops == sorted(tops)


def test_page_ids_come_from_unescaped_file_names() -> None:
    url = "http://example.org/a/84ae6d5f___Vv_%28Name%29_001.jpg"
    assert page_id_from_url(url) == "84ae6d5f___Vv_(Name)_001"
    assert page_id_from_url("http://example.org/x/evil%2F..%2Fname.png") == "evil_.._name"


def test_export_errors_are_data_errors() -> None:
    with pytest.raises(DataError, match="Line 2"):
        parse_export('{"content": "http://h/a.jpg", "annotation": null}\nnot json\n')
    with pytest.raises(DataError, match="both be saved"):
        parse_export('{"content": "http://h/1/a.jpg"}\n{"content": "http://h/2/a.jpg"}\n')


# Downloads: a local server with PNGs made here. /ok/ always serves, /flaky/ fails twice per file then serves,
# /missing/ is a 404, /broken/ always a 500, /short/ promises more bytes than it sends.
def _png(seed: int) -> bytes:
    image = np.random.default_rng(seed).integers(0, 256, (40, 60), dtype=np.uint8)
    return cv2.imencode(".png", image)[1].tobytes()


IMAGES = {f"page{i}": _png(i) for i in range(6)}


class _PageServer(QuietHandler):
    hits: Counter[str] = Counter()
    lock = threading.Lock()

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        with self.lock:
            self.hits[self.path] += 1
            hits = self.hits[self.path]
        kind, name = self.path.strip("/").split("/")
        payload = IMAGES.get(name.removesuffix(".png"))
        if payload is None or kind == "missing":
            self.send_error(404)
        elif kind == "broken" or (kind == "flaky" and hits <= 2):
            self.send_error(500)
        else:
            self.send_response(200)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload[: len(payload) // 2] if kind == "short" else payload)


@pytest.fixture
def server_url() -> Iterator[str]:
    _PageServer.hits.clear()
    with serve_locally(_PageServer) as url:
        yield url


@pytest.fixture
def local_dataset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, server_url: str) -> FsdlHandwritingDataset:
    """The real export's first pages, their image URLs pointing at the local server, data under tmp_path."""
    monkeypatch.setattr(dataset_module, "DATA_DIRNAME", tmp_path / "data")
    data = FsdlHandwritingDataset()
    data.load_or_generate_data()
    data.pages = [replace(page, url=f"{server_url}/ok/page{i}.png") for i, page in enumerate(data.pages[:4])]
    return data


def _files(dataset: FsdlHandwritingDataset) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in dataset.pages_dirname().iterdir()}


def test_download_pages(local_dataset: FsdlHandwritingDataset) -> None:
    report = local_dataset.download_pages(max_workers=3, backoff=0)
    assert report.ok and not report.skipped and not report.failed
    assert sorted(report.downloaded) == sorted(page.id for page in local_dataset.pages)
    assert _files(local_dataset) == {f"{page.id}.png": IMAGES[f"page{i}"] for i, page in enumerate(local_dataset.pages)}
    decoded = cv2.imread(str(local_dataset.page_filename(local_dataset.pages[0])), cv2.IMREAD_GRAYSCALE)
    assert decoded is not None and decoded.shape == (40, 60)
    report.raise_for_failures()  # nothing to raise


def test_present_pages_are_skipped(local_dataset: FsdlHandwritingDataset) -> None:
    first = local_dataset.pages[0]
    local_dataset.pages_dirname().mkdir(parents=True)
    local_dataset.page_filename(first).write_bytes(b"already here")
    report = local_dataset.download_pages(backoff=0)
    assert report.skipped == [first.id] and len(report.downloaded) == 3
    assert local_dataset.page_filename(first).read_bytes() == b"already here"
    assert "/ok/page0.png" not in _PageServer.hits and _PageServer.hits["/ok/page1.png"] == 1
    again = local_dataset.download_pages(backoff=0)
    assert len(again.skipped) == 4 and not again.downloaded and sum(_PageServer.hits.values()) == 3


def test_failures_are_retried_then_reported_and_successes_kept(
    local_dataset: FsdlHandwritingDataset, server_url: str
) -> None:
    ok, flaky, broken, missing = local_dataset.pages
    pages = [
        ok,
        replace(flaky, url=f"{server_url}/flaky/page1.png"),
        replace(broken, url=f"{server_url}/broken/page2.png"),
        replace(missing, url=f"{server_url}/missing/page3.png"),
    ]
    local_dataset.pages = pages
    report = local_dataset.download_pages(max_workers=4, retries=3, backoff=0)
    assert sorted(report.downloaded) == sorted([ok.id, flaky.id])
    assert report.failed.keys() == {broken.id, missing.id}
    assert "500" in report.failed[broken.id] and "404" in report.failed[missing.id]
    assert _PageServer.hits["/flaky/page1.png"] == 3  # two failures, then the image
    assert _PageServer.hits["/broken/page2.png"] == 4  # first try and three retries
    assert _PageServer.hits["/missing/page3.png"] == 1  # a 404 is not retried
    assert _files(local_dataset) == {f"{ok.id}.png": IMAGES["page0"], f"{flaky.id}.png": IMAGES["page1"]}
    with pytest.raises(DataError, match="2 page image") as info:
        report.raise_for_failures()
    assert broken.id in str(info.value) and missing.id in str(info.value)
    # A second run fetches only what is missing: the failed pages, once more.
    rerun = local_dataset.download_pages(retries=0, backoff=0)
    assert sorted(rerun.skipped) == sorted([ok.id, flaky.id]) and rerun.failed.keys() == {broken.id, missing.id}


def test_short_reads_leave_no_partial_files(local_dataset: FsdlHandwritingDataset, server_url: str) -> None:
    page = replace(local_dataset.pages[0], url=f"{server_url}/short/page0.png")
    report = local_dataset.download_pages(pages=[page], retries=1, backoff=0)
    assert report.failed.keys() == {page.id} and "stopped after" in report.failed[page.id]
    assert _PageServer.hits["/short/page0.png"] == 2  # a dropped connection is worth another try
    assert list(local_dataset.pages_dirname().iterdir()) == []


def test_unreachable_server_is_reported(local_dataset: FsdlHandwritingDataset) -> None:
    page: FsdlPage = replace(local_dataset.pages[0], url="http://127.0.0.1:9/page.png")
    report = local_dataset.download_pages(pages=[page], retries=0, timeout=2)
    assert report.failed.keys() == {page.id} and "Could not download" in report.failed[page.id]


def test_download_needs_loaded_pages() -> None:
    with pytest.raises(DataError, match="load_or_generate_data"):
        FsdlHandwritingDataset().download_pages()
