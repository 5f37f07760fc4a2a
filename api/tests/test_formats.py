"""Documents in, documents out: PDFs and multi-page TIFFs read, answers in every format of `FORMATS`.

The formats themselves are tested in text_recognizer/documents; here, what the API does with them: the query
parameters, the content types, the limits and the errors. A real scan goes through the shipped page model once per
format; the many-page documents go through a fast fake (`FakePagePredictor`).
"""

import base64
import io
import json
import logging

import pytest
from flask import Flask
from flask.testing import FlaskClient
from lxml import etree
from PIL import Image
from reportlab.lib import pdfencrypt
from reportlab.pdfgen import canvas

from api import lambda_handler
from api.app import MAX_IMAGE_SIDE, PREVIEW_SIDE, create_app
from api.tests.helpers import (
    CHARACTER_IMAGES,
    DOCUMENT_PAGES,
    PAGE_SCAN,
    FakePagePredictor,
    FakePredictor,
    ImageServer,
    data_url,
    pdf_of,
    tiff_of,
)
from api.tests.test_lambda_handler import http_api_event
from text_recognizer.documents import FORMATS
from text_recognizer.util import read_image

PDF = pdf_of()  # 3 pages: DOCUMENT_PAGES at 300 dpi
SIZES = [read_image(path).shape[::-1] for path in DOCUMENT_PAGES]  # (width, height) of each image


def _sizes(pages: list[dict]) -> list[tuple[int, int]]:
    return [(page["width"], page["height"]) for page in pages]


def _near(sizes: list[tuple[int, int]], expected: list[tuple[int, int]]) -> bool:
    """Whether page sizes are the images' (read at 300 dpi from a PDF at 300 dpi), give or take a rounding."""
    return len(sizes) == len(expected) and all(
        abs(w - ew) <= 1 and abs(h - eh) <= 1 for (w, h), (ew, eh) in zip(sizes, expected, strict=True)
    )


def _pdf(pages: list[tuple[float, float]], encrypt: pdfencrypt.StandardEncryption | None = None) -> bytes:
    """A PDF of blank pages of the given sizes in points (1/72 inch), each with a word written on it."""
    buffer = io.BytesIO()
    document = canvas.Canvas(buffer, encrypt=encrypt)
    for width, height in pages:
        document.setPageSize((width, height))
        document.drawString(10, 10, "hello")
        document.showPage()
    document.save()
    return buffer.getvalue()


def _assert_json_error(response, status: int, fragment: str = "") -> None:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    assert fragment.lower() in response.get_json()["error"].lower(), response.get_json()["error"]


@pytest.fixture
def pages() -> FakePagePredictor:
    return FakePagePredictor()


@pytest.fixture
def client(pages: FakePagePredictor) -> FlaskClient:
    return create_app({"line": pages, "page": pages, "character": FakePredictor()}).test_client()


def _post_pdf(client: FlaskClient, query: str, body: bytes = PDF):
    return client.post(f"/v1/predict?mode=page&{query}", data=body, content_type="application/pdf")


# Every format on a real scan, read by the shipped page model.


def _check_body(name: str, body: bytes, text: str) -> None:
    """What each format's body must at least be: parseable, holding what was read."""
    if name == "txt":
        assert body.decode().strip() == text.strip()
    elif name == "json":
        [page] = json.loads(body)["pages"]
        assert (page["width"], page["height"]) == read_image(PAGE_SCAN).shape[::-1]
        assert page["lines"] and page["lines"][0]["text"] and {"box", "confidence", "kind"} <= set(page["lines"][0])
    elif name in ("alto", "page"):
        root = etree.fromstring(body)
        assert etree.QName(root).localname == {"alto": "alto", "page": "PcGts"}[name]
    elif name == "hocr":
        assert b"ocr_page" in body and b"ocr_line" in body
    elif name == "pdf":
        assert body.startswith(b"%PDF") and b"%%EOF" in body[-32:]


@pytest.fixture(scope="module")
def scan_text(shipped_predictors) -> str:
    """Every line read, printed ones too (the documents' text; the default answer's `pred` is the handwriting's)."""
    return "\n".join(line.text for line in shipped_predictors["page"].predict(read_image(PAGE_SCAN)).lines)


@pytest.mark.parametrize("name", list(FORMATS))
def test_each_format_of_a_scanned_page(shipped_app: Flask, scan_text: str, name: str) -> None:
    response = shipped_app.test_client().post(
        f"/v1/predict?mode=page&format={name}&download=1&name=a01-014",
        data=PAGE_SCAN.read_bytes(),
        content_type="image/jpeg",
    )
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.content_type == FORMATS[name].media_type
    assert response.headers["Content-Disposition"] == f'attachment; filename="a01-014{FORMATS[name].extension}"'
    _check_body(name, response.data, scan_text)


def test_without_a_format_the_answer_is_as_it_was(shipped_app: Flask, shipped_predictors) -> None:
    response = shipped_app.test_client().post("/v1/predict?mode=page", data=PAGE_SCAN.read_bytes(),
                                              content_type="image/jpeg")  # fmt: skip
    expected = shipped_predictors["page"].predict(read_image(PAGE_SCAN))
    lines = [{"box": list(line.box), "pred": line.text, "conf": line.confidence, "kind": line.kind}
             for line in expected.lines]  # fmt: skip
    assert response.get_json() == {"pred": expected.text, "conf": expected.confidence, "mode": "page", "lines": lines}
    assert "Content-Disposition" not in response.headers


# Documents of several pages.


def test_a_pdf_of_three_pages_in_json(client: FlaskClient, pages: FakePagePredictor) -> None:
    response = _post_pdf(client, "format=json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    answer = response.get_json()
    assert _near(_sizes(answer["pages"]), SIZES)
    assert [page["lines"][0]["text"] for page in answer["pages"]] == [
        f"page {w}x{h}" for w, h in _sizes(answer["pages"])
    ]
    assert [line["kind"] for line in answer["pages"][0]["lines"]] == ["handwritten", "printed"]
    assert all("image" not in page for page in answer["pages"])
    assert len(pages.images) == 3
    assert "Content-Disposition" not in response.headers


def test_json_with_images_gives_each_page_as_a_small_png(client: FlaskClient) -> None:
    answer = _post_pdf(client, "format=json&images=1").get_json()
    for page, (width, height) in zip(answer["pages"], SIZES, strict=True):
        header, _, payload = page["image"].partition(",")
        assert header == "data:image/png;base64"
        with Image.open(io.BytesIO(base64.b64decode(payload))) as image:
            assert image.format == "PNG" and max(image.size) <= PREVIEW_SIDE
            assert image.width / image.height == pytest.approx(width / height, abs=0.01)


def test_page_xml_of_one_page_of_three(client: FlaskClient, pages: FakePagePredictor) -> None:
    response = _post_pdf(client, "format=page&page=2&download=1&name=scan")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.content_type == FORMATS["page"].media_type
    assert response.headers["Content-Disposition"] == f'attachment; filename="scan_page2{FORMATS["page"].extension}"'
    [image] = pages.images  # only the page asked for was read
    height, width = image.shape
    assert _near([(width, height)], [SIZES[1]]) and f"page {width}x{height}".encode() in response.data
    assert _post_pdf(client, "format=page").status_code == 200  # page 1 by default


@pytest.mark.parametrize("page", ["0", "4", "-1", "two", "1.5", "²"])
def test_a_page_out_of_range_is_a_400(client: FlaskClient, pages: FakePagePredictor, page: str) -> None:
    _assert_json_error(_post_pdf(client, f"format=page&page={page}"), 400, "page")
    assert not pages.images


@pytest.mark.parametrize("name", [n for n in FORMATS if n != "page"])
def test_every_other_format_holds_every_page(client: FlaskClient, pages: FakePagePredictor, name: str) -> None:
    response = _post_pdf(client, f"format={name}")
    assert response.status_code == 200 and response.content_type == FORMATS[name].media_type
    if name != "pdf":  # the PDF's text is compressed
        assert all(f"{w}x{h}".encode() in response.data for h, w in (i.shape for i in pages.images))


def test_a_multi_page_tiff_body(client: FlaskClient) -> None:
    body = tiff_of(DOCUMENT_PAGES[:2], sixteen_bits=True)
    response = client.post("/v1/predict?mode=page&format=json", data=body, content_type="image/tiff")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert _sizes(response.get_json()["pages"]) == SIZES[:2]  # a TIFF's pages are its images


def test_without_a_format_a_document_answers_its_first_page_and_its_page_count(
    client: FlaskClient, pages: FakePagePredictor
) -> None:
    answer = _post_pdf(client, "").get_json()
    assert answer["pages"] == 3 and answer["mode"] == "page"
    height, width = pages.images[0].shape
    assert answer["pred"] == f"page {width}x{height}\npage {width}x{height}" and len(pages.images) == 1
    assert set(answer) == {"pred", "conf", "mode", "lines", "pages"}
    single = client.post("/v1/predict?mode=page", data=PAGE_SCAN.read_bytes(), content_type="image/jpeg")
    assert "pages" not in single.get_json()


def test_a_pdf_in_a_json_data_url(client: FlaskClient) -> None:
    response = client.post("/v1/predict?format=json", json={"image": data_url(PDF, "application/pdf"), "mode": "page"})
    assert response.status_code == 200 and len(response.get_json()["pages"]) == 3


def test_image_url_with_a_format(pages: FakePagePredictor, image_server: ImageServer) -> None:
    client = create_app({"page": pages}, {"ALLOW_PRIVATE_URLS": True}).test_client()
    image_server.routes["/files/scan.pdf"] = (200, {"Content-Type": "application/pdf"}, PDF)
    query = {"image_url": image_server.url("/files/scan.pdf"), "mode": "page", "format": "txt", "download": "1"}
    response = client.get("/v1/predict", query_string=query)
    assert response.status_code == 200 and response.content_type == FORMATS["txt"].media_type
    assert response.headers["Content-Disposition"] == f'attachment; filename="scan{FORMATS["txt"].extension}"'


def test_the_file_name_is_made_safe(client: FlaskClient) -> None:
    response = _post_pdf(client, "format=txt&download=1&name=" + '../"evil"\r\nX: 1')
    assert response.headers["Content-Disposition"] == f'attachment; filename="evil_X_1{FORMATS["txt"].extension}"'


# Documents refused: a JSON error, nothing predicted, and the next request served.


def test_an_encrypted_pdf_is_a_400(client: FlaskClient, pages: FakePagePredictor) -> None:
    encrypted = _pdf([(595, 842)], encrypt=pdfencrypt.StandardEncryption("secret", "owner"))
    assert b"/Encrypt" in encrypted
    _assert_json_error(_post_pdf(client, "format=json", encrypted), 400, "password")
    assert not pages.images
    assert _post_pdf(client, "format=json").status_code == 200


CORRUPT_PDFS = {
    "truncated": PDF[: len(PDF) // 3],
    "header-only": b"%PDF-1.7\n",
    "garbage": b"%PDF-1.4\n" + bytes(range(256)) * 8,
}


@pytest.mark.parametrize("body", CORRUPT_PDFS.values(), ids=CORRUPT_PDFS.keys())
def test_a_corrupt_pdf_is_a_400(client: FlaskClient, pages: FakePagePredictor, body: bytes) -> None:
    _assert_json_error(_post_pdf(client, "format=json", body), 400)
    assert not pages.images


def test_too_many_pages_is_refused_before_reading_any(pages: FakePagePredictor) -> None:
    client = create_app({"page": pages}, {"MAX_PAGES": 2}).test_client()
    _assert_json_error(_post_pdf(client, "format=json"), 400, "pages")
    _assert_json_error(_post_pdf(client, ""), 400, "pages")
    assert not pages.images
    assert _post_pdf(client, "format=json", pdf_of(DOCUMENT_PAGES[:2])).status_code == 200


def test_each_page_is_checked_against_the_modes_longest_side(pages: FakePagePredictor) -> None:
    client = create_app({"page": pages}).test_client()
    limit = MAX_IMAGE_SIDE["page"]
    too_tall = (72, (limit + 300) * 72 / 300)  # points: read at 300 dpi, longer than the limit by 300 px
    _assert_json_error(_post_pdf(client, "format=json", _pdf([(595, 842), too_tall])), 400, "page 2 of 2")
    assert not pages.images


UNKNOWN_OPTIONS = {
    "format": ("format=docx", "choose one of " + ", ".join(FORMATS)),
    "empty-format": ("format=", "unknown format"),
    "page-without-page-format": ("format=json&page=2", "format=page"),
    "images-without-json": ("format=txt&images=1", "format=json"),
    "download-without-format": ("download=1", "needs a format"),
    "download-not-a-flag": ("format=txt&download=maybe", "1 or 0"),
}


@pytest.mark.parametrize("query, fragment", UNKNOWN_OPTIONS.values(), ids=UNKNOWN_OPTIONS.keys())
def test_unknown_options_are_400s_before_any_reading(
    client: FlaskClient, pages: FakePagePredictor, image_server: ImageServer, query: str, fragment: str
) -> None:
    _assert_json_error(_post_pdf(client, query), 400, fragment)
    url = image_server.url("/scan.pdf")
    _assert_json_error(client.get(f"/v1/predict?image_url={url}&{query}"), 400, fragment)
    assert not pages.images and not image_server.hits


def test_a_request_logs_its_format_and_pages(client: FlaskClient, caplog) -> None:
    caplog.set_level(logging.INFO, logger="api")
    _post_pdf(client, "format=alto")
    [record] = [json.loads(r.getMessage()) for r in caplog.records if r.name == "api"]
    assert record["status"] == 200 and record["format"] == "alto" and record["pages"] == 3
    assert _near([(record["image_width"], record["image_height"])], SIZES[:1])


def test_other_modes_read_documents_too(client: FlaskClient) -> None:
    body = data_url(pdf_of(CHARACTER_IMAGES[:2], dpi=300), "application/pdf")
    response = client.post("/v1/predict?format=txt", json={"image": body, "mode": "character"})
    assert response.status_code == 200 and response.content_type == FORMATS["txt"].media_type


def test_a_pdf_answer_goes_through_lambda_base64(monkeypatch: pytest.MonkeyPatch, pages: FakePagePredictor) -> None:
    monkeypatch.setattr(lambda_handler, "create_app", lambda: create_app({"page": pages}))
    lambda_handler._handler.cache_clear()
    try:
        event = http_api_event("POST", body=PDF, query={"mode": "page", "format": "pdf"}, base64_body=True,
                               headers={"content-type": "application/pdf"})  # fmt: skip
        response = lambda_handler.handler(event, None)
    finally:
        lambda_handler._handler.cache_clear()
    assert response["statusCode"] == 200 and response["isBase64Encoded"] is True
    assert response["headers"]["content-type"] == "application/pdf"
    assert base64.b64decode(response["body"]).startswith(b"%PDF")
