"""The whole path from one's own labelled pages to a served reader, on IAM training pages made into an FSDL export
(images served from 127.0.0.1) and a PAGE XML export: download, import, fine-tune the shipped IAM reader a few steps
on both at once (a weighted list of data sets), evaluate, export the artifact, read a line with it; and the same
export as pages for the line detector."""

import json
from collections.abc import Iterator
from pathlib import Path
from xml.sax.saxutils import escape

import cv2
import pytest

from text_recognizer import artifacts
from text_recognizer.datasets import FsdlHandwritingParagraphsDataset, IamDataset
from text_recognizer.datasets import dataset as dataset_module
from text_recognizer.tests.support.local_http import QuietHandler, serve_locally

BASE_WEIGHTS = Path(__file__).resolve().parents[1] / "weights" / "LineModelCtc_IamLinesDataset_line_lstm_ctc"
SUPPORT_LINE = Path(__file__).parent / "support" / "iam_lines" / "a01-014-00.png"
PAGE_NS = "http://schema.primaresearch.org/PAGE/gts/pagecontent/2019-07-15"
NUM_FORMS = 3
SCALE = 0.5  # half-resolution pages: quicker to serve and crop, and lines still 60 px or more high


@pytest.fixture(scope="module")
def iam_pages() -> list[tuple[str, bytes, list[tuple[str, tuple[int, int, int, int]]], tuple[int, int]]]:
    """The first IAM training forms: (form id, JPEG bytes, [(text, box in its pixels)], (height, width))."""
    iam = IamDataset()
    iam.load_or_generate_data()
    forms = sorted({line.form_id for line in iam.lines if line.split == "train"})[:NUM_FORMS]
    pages = []
    for form_id, page in iam.form_images(forms):
        small = cv2.resize(page, None, fx=SCALE, fy=SCALE, interpolation=cv2.INTER_AREA)
        lines = [
            (line.text, tuple(round(v * SCALE) for v in line.box)) for line in iam.lines if line.form_id == form_id
        ]
        pages.append((form_id, cv2.imencode(".jpg", small)[1].tobytes(), lines, small.shape[:2]))
    return pages  # type: ignore[return-value]


@pytest.fixture
def page_server(iam_pages: list) -> Iterator[str]:
    images = {f"/pages/{form_id}.jpg": data for form_id, data, _, _ in iam_pages}

    class Handler(QuietHandler):
        def do_GET(self) -> None:
            data = images.get(self.path)
            if data is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    with serve_locally(Handler) as url:
        yield url


def write_fsdl_export(path: Path, pages: list, base_url: str) -> Path:
    """Pages as a Dataturks export: rectangles in fractions of the page, texts in `notes`, images at URLs."""
    records = []
    for form_id, _, lines, (height, width) in pages:
        annotations = [
            {"label": ["line"], "shape": "rectangle", "notes": text,
             "points": [[x / width, y / height], [(x + w) / width, (y + h) / height]]}
            for text, (x, y, w, h) in lines
        ]  # fmt: skip
        records.append({"content": f"{base_url}/pages/{form_id}.jpg", "annotation": annotations})
    path.write_text("".join(json.dumps(record) + "\n" for record in records))
    return path


def write_page_xml_export(folder: Path, pages: list) -> Path:
    """Pages as Transkribus exports them: images in the folder, one PAGE XML 2019 file each in `page/`."""
    (folder / "page").mkdir(parents=True)
    for form_id, data, lines, (height, width) in pages:
        (folder / f"{form_id}.jpg").write_bytes(data)
        body = "".join(
            f'<TextLine id="l{i}"><Coords points="{x},{y} {x + w},{y} {x + w},{y + h} {x},{y + h}"/>'
            f"<TextEquiv><Unicode>{escape(text)}</Unicode></TextEquiv></TextLine>"
            for i, (text, (x, y, w, h)) in enumerate(lines)
        )
        (folder / "page" / f"{form_id}.xml").write_text(
            f'<?xml version="1.0" encoding="UTF-8"?><PcGts xmlns="{PAGE_NS}"><Page imageFilename="{form_id}.jpg" '
            f'imageWidth="{width}" imageHeight="{height}"><TextRegion id="r1">{body}</TextRegion></Page></PcGts>'
        )
    return folder


def test_own_handwriting_end_to_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, iam_pages: list, page_server: str
) -> None:
    from evaluation.evaluate_line_predictor import evaluate_data
    from text_recognizer.predictors import LinePredictor
    from training import export_models
    from training.run_experiment import parse_config, run_experiment

    # The FSDL export as a data mirror serves it; data, weights and artifacts under tmp_path.
    mirror = tmp_path / "mirror" / "fsdl_handwriting"
    export = write_fsdl_export(tmp_path / "fsdl_handwriting.json", iam_pages, page_server)
    mirror.mkdir(parents=True)
    (mirror / "fsdl_handwriting.json").write_bytes(export.read_bytes())
    from text_recognizer.util import sha256_of

    (mirror / "metadata.toml").write_text(
        f'url = "unused"\nfilename = "fsdl_handwriting.json"\nsha256 = "{sha256_of(export)}"\n'
    )
    monkeypatch.setenv(dataset_module.MIRROR_ENV_VAR, str(mirror.parent))
    monkeypatch.setattr(dataset_module, "DATA_DIRNAME", tmp_path / "data")
    monkeypatch.setattr("text_recognizer.models.base.WEIGHTS_DIRNAME", tmp_path / "weights")
    monkeypatch.setattr(artifacts, "ARTIFACTS_DIRNAME", tmp_path / "artifacts")
    monkeypatch.setattr(export_models, "ARTIFACTS_DIRNAME", tmp_path / "artifacts")
    page_xml = write_page_xml_export(tmp_path / "transkribus", iam_pages)

    shipped = json.loads(BASE_WEIGHTS.with_suffix(".json").read_text())["config"]
    config = {
        "dataset": [
            {"dataset": "FsdlHandwritingLinesDataset", "weight": 1},
            {"dataset": "LinesDataset", "args": {"source": str(page_xml)}, "weight": 1},
        ],
        "model": "LineModelCtc",
        "network": shipped["network"],
        "network_args": shipped["network_args"],
        "train_args": {"batch_size": 8, "epochs": 1, "learning_rate": 1e-4, "freeze_conv": True,
                       "initial_weights": f"{BASE_WEIGHTS}.weights.h5", "early_stopping_patience": 0},
    }  # fmt: skip
    metrics = run_experiment(parse_config(json.dumps(config)), save=True, use_wandb=False, name="own_test")
    assert 0 <= metrics["test_cer"] < 0.2  # the shipped reader, barely moved, on pages it trained on
    assert len(list((tmp_path / "data" / "raw" / "imported_pages").iterdir())) == NUM_FORMS  # downloaded once

    info = json.loads((tmp_path / "weights" / "own_test.json").read_text())
    sources = info["dataset_sources"]
    assert [s["dataset"] for s in sources] == ["FsdlHandwritingLinesDataset", "LinesDataset"]
    assert all(len(s["sha256"]) == 64 for s in sources) and sources[0]["sha256"] != sources[1]["sha256"]

    export_models.export("own_test", "test")
    spec = artifacts.load_artifact("own_test").spec
    assert spec["provenance"]["dataset_sources"] == sources and spec["preprocessing"]["method"] == "line"

    # The same export as pages for the line detector: IAM paragraphs' format, images already downloaded.
    paragraphs = FsdlHandwritingParagraphsDataset(image_size=128)
    paragraphs.load_or_generate_data()
    assert sum(len(x) for x in (paragraphs.x_train, paragraphs.x_val, paragraphs.x_test)) == NUM_FORMS
    assert paragraphs.x_train.shape[1:] == paragraphs.y_train.shape[1:] == (128, 128) and paragraphs.y_train.max() == 2

    predictor = LinePredictor("own_test")
    assert predictor.predict(str(SUPPORT_LINE)).text  # reads a real line
    rates = evaluate_data(str(page_xml), "own_test", split="all")
    assert rates["lines"] > 20 and rates["cer"] < 0.2
