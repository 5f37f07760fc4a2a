"""The FSDL handwriting data set: pages handwritten by the Full Stack Deep Learning class, their lines annotated.

    TEXT_RECOGNIZER_DATA_MIRROR=/work/shared/data/raw python -m text_recognizer.datasets.fsdl_handwriting_dataset

    >>> from text_recognizer.datasets import FsdlHandwritingDataset
    >>> dataset = FsdlHandwritingDataset()
    >>> dataset.load_or_generate_data()  # reads the export (and downloads no page image)
    >>> page = dataset.pages[0]
    >>> page.id, page.lines[0].text, page.lines[0].box
    ('85a46e90-8af1-48fe-9e75-d18f7f05d6e9___a01-000u', 'A MOVE to stop Mr. Gaitskiell from', (0.142..., 0.189..., ...))
    >>> report = dataset.download_pages()  # the page images, into data/raw/fsdl_handwriting/pages/<id>.jpg
    >>> report.raise_for_failures()        # a DataError naming each page that could not be fetched, if any

The raw file is a Dataturks export (`fsdl_handwriting.json`): one JSON object a line, one line a page, with the page
image's URL in `content` and its line annotations in `annotation` (null or [] for a page nobody annotated). Each
annotation is labelled `line`, is a `rectangle` or a `polygon` whose `points` are fractions of the image's width and
height, and carries the line's text in `notes` ("" where the annotator gave none). A line's box is the bounding box of
its points; annotations without area (a polygon of one point, a stray click) are skipped and counted.
"""

import argparse
import json
import re
import time
import urllib.error
import urllib.parse
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from text_recognizer.datasets.dataset import DataError, Dataset, fetch_url

RelativeBox = tuple[float, float, float, float]  # x, y, width, height as fractions of the page's width and height
Point = tuple[float, float]

DEFAULT_EXTENSION = ".jpg"
_UNSAFE_ID_CHARACTERS = re.compile(r"[^\w.()+-]")
# HTTP errors that no retry mends; anything else (5xx, 408, 429, timeouts, dropped connections) is tried again.
_TRANSIENT_HTTP_STATUSES = {408, 425, 429}


@dataclass(frozen=True)
class FsdlLine:
    """One annotated line: its text (maybe ""), bounding box, and the annotated shape's points (relative coords)."""

    text: str
    box: RelativeBox
    points: tuple[Point, ...]
    shape: str


@dataclass(frozen=True)
class FsdlPage:
    """One handwritten page: its id (from the image's file name), image URL and annotated lines, top to bottom."""

    id: str
    url: str
    lines: tuple[FsdlLine, ...]

    @property
    def extension(self) -> str:
        """The image file's extension from its URL, `.jpg` where the URL has none."""
        stem, dot, extension = _file_name(self.url).rpartition(".")
        suffix = f".{extension.lower()}"
        return suffix if stem and dot and re.fullmatch(r"\.[a-z0-9]{1,5}", suffix) else DEFAULT_EXTENSION


@dataclass
class PageDownloadReport:
    """What `download_pages()` did: page ids fetched now, ids already on disk, and failed ids with the reason."""

    downloaded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failed

    def raise_for_failures(self) -> None:
        """Raise a `DataError` naming every failed page and why, if any failed."""
        if self.failed:
            details = "; ".join(f"{page_id}: {reason}" for page_id, reason in sorted(self.failed.items()))
            raise DataError(f"{len(self.failed)} page image(s) could not be downloaded ({self}): {details}")

    def __str__(self) -> str:
        return f"{len(self.downloaded)} downloaded, {len(self.skipped)} already present, {len(self.failed)} failed"


def _file_name(url: str) -> str:
    """The last segment of the URL's path, %-escapes undone (so it may hold a `/`)."""
    return urllib.parse.unquote(urllib.parse.urlsplit(url).path.rsplit("/", 1)[-1])


def page_id_from_url(url: str) -> str:
    """The page id: the URL's file name without extension, %-escapes undone, characters unsafe in file names `_`."""
    name = _file_name(url)
    stem = name.rpartition(".")[0] or name
    page_id = _UNSAFE_ID_CHARACTERS.sub("_", stem)
    if page_id.strip(".") == "":
        raise DataError(f"Cannot make a page id from the image URL {url!r}")
    return page_id


def parse_annotation(annotation: dict[str, Any]) -> FsdlLine | None:
    """The line an annotation describes, or None where it is not a line or has no area."""
    if "line" not in (annotation.get("label") or []):
        return None
    points = tuple((float(x), float(y)) for x, y in annotation.get("points") or [])
    if not points:
        return None
    xs, ys = [min(max(x, 0.0), 1.0) for x, _ in points], [min(max(y, 0.0), 1.0) for _, y in points]
    box = (min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys))
    if box[2] <= 0 or box[3] <= 0:
        return None
    return FsdlLine(str(annotation.get("notes") or "").strip(), box, points, str(annotation.get("shape", "")))


def parse_export(content: str) -> tuple[list[FsdlPage], int]:
    """The pages of a Dataturks export (JSON lines), and how many annotations were skipped (no line, no area).

    Lines are sorted top to bottom (then left to right); page ids must be unique.
    """
    pages: list[FsdlPage] = []
    skipped = 0
    seen: dict[str, str] = {}
    for number, row in enumerate(content.splitlines(), start=1):
        if not row.strip():
            continue
        try:
            record = json.loads(row)
            url = record["content"]
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            raise DataError(f"Line {number} of the export is not a Dataturks record: {e}") from e
        page_id = page_id_from_url(url)
        if page_id in seen:
            raise DataError(f"Pages {seen[page_id]!r} and {url!r} would both be saved as {page_id!r}")
        seen[page_id] = url
        annotations = record.get("annotation") or []
        lines = [line for line in map(parse_annotation, annotations) if line is not None]
        skipped += len(annotations) - len(lines)
        lines.sort(key=lambda line: (line.box[1], line.box[0]))
        pages.append(FsdlPage(page_id, url, tuple(lines)))
    return pages, skipped


def _is_transient(error: DataError) -> bool:
    cause = error.__cause__
    if isinstance(cause, urllib.error.HTTPError):
        return cause.code >= 500 or cause.code in _TRANSIENT_HTTP_STATUSES
    return True  # connection refused or reset, timeouts, short reads


def fetch_with_retries(url: str, path: Path, retries: int, timeout: float, backoff: float) -> None:
    """`fetch_url` without a per-file bar, tried again up to `retries` times (waits backoff, 2 backoff, ...).

    HTTP client errors other than 408/425/429 are not retried. Raises the last `DataError`.
    """
    for attempt in range(retries + 1):
        try:
            fetch_url(url, path, timeout=timeout, progress=False)
            return
        except DataError as e:
            if attempt == retries or not _is_transient(e):
                raise
        time.sleep(backoff * 2**attempt)


class FsdlHandwritingDataset(Dataset):
    """FSDL handwriting pages and their lines; `load_or_generate_data()` reads the export (no image download)."""

    raw_name = "fsdl_handwriting"

    def __init__(self) -> None:
        self.pages: list[FsdlPage] = []
        self.num_skipped = 0

    @classmethod
    def pages_dirname(cls) -> Path:
        return cls.raw_dirname() / "pages"

    def load_or_generate_data(self) -> None:
        self.pages, self.num_skipped = parse_export(self.raw_file().read_text(encoding="utf-8"))

    @property
    def line_regions_by_id(self) -> dict[str, list[RelativeBox]]:
        """Page id to the (x, y, width, height) boxes of its lines, relative to the page size."""
        return {page.id: [line.box for line in page.lines] for page in self.pages}

    @property
    def line_strings_by_id(self) -> dict[str, list[str]]:
        """Page id to the texts of its lines, in the order of `line_regions_by_id` ("" where none was given)."""
        return {page.id: [line.text for line in page.lines] for page in self.pages}

    def page_filename(self, page: FsdlPage) -> Path:
        """Where `download_pages()` puts the page's image."""
        return self.pages_dirname() / f"{page.id}{page.extension}"

    def download_pages(
        self,
        max_workers: int = 8,
        retries: int = 3,
        timeout: float = 30.0,
        backoff: float = 1.0,
        pages: Iterable[FsdlPage] | None = None,
    ) -> PageDownloadReport:
        """Download the page images (all, or `pages`) into `pages_dirname()`, `max_workers` at a time.

        Images already on disk are skipped. Each one is written under a temporary name and renamed once complete, so
        no half-written image is ever left under its name. A failing URL is tried again up to `retries` times. A page
        that still fails does not stop the others: the returned report lists what was downloaded, skipped and failed
        (with the reason); call its `raise_for_failures()` to turn failures into a `DataError`.
        """
        if not self.pages and pages is None:
            raise DataError("Call load_or_generate_data() first")
        report = PageDownloadReport()
        todo = []
        for page in self.pages if pages is None else pages:
            if self.page_filename(page).exists():
                report.skipped.append(page.id)
            else:
                todo.append(page)
        if not todo:
            return report
        self.pages_dirname().mkdir(parents=True, exist_ok=True)
        executor = ThreadPoolExecutor(max_workers=max_workers)
        try:
            futures = {
                executor.submit(fetch_with_retries, page.url, self.page_filename(page), retries, timeout, backoff): page
                for page in todo
            }
            with tqdm(total=len(futures), unit="page", desc="FSDL pages") as bar:
                for future in as_completed(futures):
                    page = futures[future]
                    try:
                        future.result()
                        report.downloaded.append(page.id)
                    except Exception as e:  # noqa: BLE001 (each failure is reported, none stops the others)
                        report.failed[page.id] = str(e)
                    bar.update()
                    bar.set_postfix(failed=len(report.failed))
        finally:
            # On Ctrl-C: downloads under way finish (or remove their temporary file), queued ones never start.
            executor.shutdown(wait=True, cancel_futures=True)
        report.downloaded.sort()
        return report

    def __repr__(self) -> str:
        lines = [line for page in self.pages for line in page.lines]
        with_lines = sum(bool(page.lines) for page in self.pages)
        with_text = sum(bool(line.text) for line in lines)
        return (
            f"FSDL handwriting: {len(self.pages)} pages ({with_lines} with lines), {len(lines)} lines "
            f"({with_text} with text), {self.num_skipped} annotations skipped (not a line or no area)"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--download-pages", action="store_true", help="also download the page images")
    args = parser.parse_args(argv)
    dataset = FsdlHandwritingDataset()
    dataset.load_or_generate_data()
    print(dataset)
    for page in dataset.pages[:3]:
        print(page.id, [line.text for line in page.lines[:2]])
    if args.download_pages:
        report = dataset.download_pages()
        print(f"Page images in {dataset.pages_dirname()}: {report}")
        for page_id, reason in sorted(report.failed.items()):
            print(f"  {page_id}: {reason}")
        return 0 if report.ok else 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
