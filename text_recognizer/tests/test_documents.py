"""Documents in (images, multi-page TIFFs, PDFs) and out (text, JSON, ALTO, PAGE XML, hOCR, searchable PDF)."""

import base64
import io
import json
import shutil
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pypdfium2 as pdfium
import pytest
from PIL import Image
from reportlab.pdfgen.canvas import Canvas

from text_recognizer.documents import FORMATS, Document, DocumentError, Page, read_document, read_pages
from text_recognizer.metrics import character_error_rate
from text_recognizer.predictors import Line, Prediction, Predictor, Word, load_predictor

SUPPORT_DIRNAME = Path(__file__).parent / "support"
PARAGRAPHS = SUPPORT_DIRNAME / "iam_paragraphs"
PARAGRAPH_TEXTS = json.loads((PARAGRAPHS / "texts.json").read_text())
# The schemas' offline copies lie beside the checkout (../shared/reference/schemas), as the data mirror does.
SCHEMAS_DIRNAME = Path(__file__).resolve().parents[3] / "shared" / "reference" / "schemas"
TRICKY = "Tom & \"Jerry\" <said> 'hi'"


def _png(image: np.ndarray, **save_args: object) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG", **save_args)
    return buffer.getvalue()


def _pdf(images: list[np.ndarray], dpi: float = 300, password: str | None = None) -> bytes:
    """A PDF with one page per image, each as large as the image at `dpi`."""
    buffer = io.BytesIO()
    canvas = Canvas(buffer, encrypt=password)
    for image in images:
        size = (image.shape[1] * 72 / dpi, image.shape[0] * 72 / dpi)
        canvas.setPageSize(size)
        canvas.drawInlineImage(Image.fromarray(image), 0, 0, *size)
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def _document(pages: int = 1) -> Document:
    """A hand-made document: a printed line, and a handwritten line of two words, one with XML's special characters."""
    words = (Word((10, 40, 60, 30), "Tom", 0.9), Word((80, 40, 200, 30), '& "Jerry" <said>', 0.8),
             Word((290, 40, 50, 30), "'hi'", 0.7))  # fmt: skip
    printed = Line((10, 5, 300, 20), "Printed header", 0.5, "printed")
    lines = (printed, Line((10, 40, 330, 30), TRICKY, 0.8, words=words))
    image = np.full((100, 400), 255, np.uint8)
    page = Page(400, 100, Prediction(TRICKY, 0.8, lines), 150.0, image)
    return Document("hand made", (page,) * pages)


def test_reads_an_image_with_its_resolution() -> None:
    image = np.full((60, 80), 200, np.uint8)
    (page,) = read_pages(_png(image, dpi=(600, 600)))
    assert page.image.shape == (60, 80) and page.dpi == pytest.approx(600)
    (page,) = read_pages(_png(image))  # no resolution stated: the default
    assert page.dpi == 300


def test_applies_exif_orientation() -> None:
    buffer = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 6  # turned 90 degrees: shown as 40 wide, 60 high
    Image.fromarray(np.full((40, 60), 128, np.uint8)).save(buffer, format="JPEG", exif=exif)
    assert read_pages(buffer.getvalue())[0].image.shape == (60, 40)


@pytest.mark.parametrize("mode", ["L", "I;16"])
def test_reads_every_page_of_a_tiff(mode: str) -> None:
    pages = [np.full((30, 50), value, np.uint16 if mode == "I;16" else np.uint8) for value in (10, 20, 30)]
    if mode == "I;16":
        pages = [page * 257 for page in pages]  # the same greys on 16 bits
    frames = [Image.fromarray(page) for page in pages]  # uint16 arrays become 16-bit greyscale images
    buffer = io.BytesIO()
    frames[0].save(buffer, format="TIFF", save_all=True, append_images=frames[1:])
    read = read_pages(buffer.getvalue())
    assert [int(page.image[0, 0]) for page in read] == [10, 20, 30]
    assert all(page.image.dtype == np.uint8 for page in read)


@pytest.mark.parametrize("format", ["WEBP", "BMP"])
def test_reads_webp_and_bmp(format: str) -> None:
    buffer = io.BytesIO()
    Image.fromarray(np.full((20, 30), 90, np.uint8)).save(buffer, format=format, lossless=True)
    assert read_pages(buffer.getvalue())[0].image.shape == (20, 30)


def test_reads_each_pdf_page_at_300_dpi() -> None:
    images = [np.full((150, 300), value, np.uint8) for value in (0, 128, 255)]  # 1 x 0.5 inches at 300 dpi
    pages = read_pages(_pdf(images))
    assert [page.image.shape for page in pages] == [(150, 300)] * 3
    assert [page.dpi for page in pages] == [300.0] * 3
    assert [int(np.median(page.image)) for page in pages] == pytest.approx([0, 128, 255], abs=2)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "Empty"),
        (b"not a document at all", "Not a readable image: neither an image"),
        (_png(np.random.default_rng(0).integers(0, 256, (60, 60), np.uint8))[:2000], "Not a readable image"),
        (b"%PDF-1.4\nnot really", "Not a readable PDF"),
        (_pdf([np.zeros((10, 10), np.uint8)], password="secret"), "encrypted"),
        (_pdf([np.zeros((10, 10), np.uint8)] * 4), "at most 3 pages"),
        (_png(np.zeros((100, 100), np.uint8)), "larger than 5000 pixels"),
    ],
    ids=["empty", "unknown", "bad pdf", "truncated png", "encrypted", "too many pages", "too many pixels"],
)
def test_unreadable_documents_are_document_errors(data: bytes, message: str) -> None:
    with pytest.raises(DocumentError, match=message):
        read_pages(data, max_pages=3, max_pixels=5000)


def test_a_tiff_of_too_many_or_too_large_pages_is_refused() -> None:
    frames = [Image.fromarray(np.zeros((10, 10), np.uint8)) for _ in range(3)] + [Image.new("L", (100, 100))]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="TIFF", save_all=True, append_images=frames[1:])
    with pytest.raises(DocumentError, match="has 4 pages; a document may have at most 3 pages"):
        read_pages(buffer.getvalue(), max_pages=3)
    with pytest.raises(DocumentError, match="Page 4 of the image of 100x100 pixels is larger than 5000 pixels"):
        read_pages(buffer.getvalue(), max_pixels=5000)


def test_reads_paths_and_data_urls(tmp_path: Path) -> None:
    data = _png(np.full((20, 30), 77, np.uint8))
    (tmp_path / "page.png").write_bytes(data)
    data_url = "data:image/png;base64," + base64.b64encode(data).decode()
    for source in (tmp_path / "page.png", str(tmp_path / "page.png"), data_url):
        assert int(read_pages(source)[0].image[0, 0]) == 77
    with pytest.raises(DocumentError, match="No document file at"):
        read_pages(tmp_path / "missing.pdf")


def test_a_turned_pdf_page_is_read_as_it_shows() -> None:
    pdf = pdfium.PdfDocument(_pdf([np.zeros((150, 300), np.uint8)]))
    pdf[0].set_rotation(90)
    buffer = io.BytesIO()
    pdf.save(buffer)
    assert read_pages(buffer.getvalue())[0].image.shape == (300, 150)


def test_a_pdf_page_too_large_is_refused_before_rendering() -> None:
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=(72 * 200, 72 * 200))  # 200 inches square: 3.6 gigapixels at 300 dpi
    canvas.showPage()
    canvas.save()
    with pytest.raises(DocumentError, match="Page 1 of the PDF is 60000x60000 pixels"):
        read_pages(buffer.getvalue())


def test_text_and_json_carry_every_line_and_word() -> None:
    document = _document(pages=2)
    assert FORMATS["txt"].write(document).decode() == f"Printed header\n{TRICKY}\fPrinted header\n{TRICKY}\n"
    pages = json.loads(FORMATS["json"].write(document))["pages"]
    assert len(pages) == 2 and (pages[0]["width"], pages[0]["height"]) == (400, 100)
    line = pages[0]["lines"][1]
    assert line["kind"] == "handwritten" and line["text"] == TRICKY and line["box"] == [10, 40, 330, 30]
    assert [word["text"] for word in line["words"]] == ["Tom", '& "Jerry" <said>', "'hi'"]


def _validate(data: bytes, schema_name: str) -> None:
    if not (SCHEMAS_DIRNAME / schema_name).is_file():
        pytest.skip(f"the offline schemas are not beside the checkout ({SCHEMAS_DIRNAME})")
    from lxml import etree

    schema = etree.XMLSchema(etree.parse(str(SCHEMAS_DIRNAME / schema_name)))
    schema.assertValid(etree.fromstring(data))


def test_alto_is_valid_and_holds_lines_words_and_kinds() -> None:
    data = FORMATS["alto"].write(_document(pages=2))
    _validate(data, "alto-4-4.local.xsd")
    ns = {"a": "http://www.loc.gov/standards/alto/ns-v4#"}
    root = ET.fromstring(data)
    assert len(root.findall(".//a:Page", ns)) == 2
    lines = root.findall(".//a:Page[1]//a:TextLine", ns)
    assert [line.get("TAGREFS") for line in lines] == ["KIND_printed", "KIND_handwritten"]
    strings = lines[1].findall("a:String", ns)
    assert " ".join(s.get("CONTENT") or "" for s in strings) == TRICKY
    assert [s.get("HPOS") for s in strings] == ["10", "80", "290"] and strings[0].get("WC") == "0.9000"


def test_page_xml_is_valid_and_holds_one_page() -> None:
    data = FORMATS["page"].write(_document())
    _validate(data, "pagecontent-2019-07-15.xsd")
    ns = {"p": "http://schema.primaresearch.org/PAGE/gts/pagecontent/2019-07-15"}
    root = ET.fromstring(data)
    regions = root.findall(".//p:TextRegion", ns)
    kinds = [region.get("custom") for region in regions]
    assert kinds == ["structure {type:printed;}", "structure {type:handwritten;}"]
    words = regions[1].findall(".//p:Word", ns)
    assert words[1].find("p:Coords", ns).get("points") == "80,40 280,40 280,70 80,70"  # type: ignore[union-attr]
    assert regions[1].find("p:TextLine/p:TextEquiv/p:Unicode", ns).text == TRICKY  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="one page"):
        FORMATS["page"].write(_document(pages=2))


def test_hocr_has_boxes_and_confidences() -> None:
    data = FORMATS["hocr"].write(_document())
    root = ET.fromstring(data)
    ns = {"h": "http://www.w3.org/1999/xhtml"}
    page = root.find(".//h:div[@class='ocr_page']", ns)
    assert page is not None and "bbox 0 0 400 100" in (page.get("title") or "")
    words = root.findall(".//h:span[@class='ocrx_word']", ns)
    titles = [word.get("title") for word in words]  # the printed line's one word, then the handwritten line's
    assert titles[:2] == ["bbox 10 5 310 25; x_wconf 50", "bbox 10 40 70 70; x_wconf 90"]
    assert titles[2] == "bbox 80 40 280 70; x_wconf 80"
    assert " ".join(word.text or "" for word in words[1:]) == TRICKY  # the printed line is one word


needs_pdftotext = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler's pdftotext is not installed")


def _pdftotext(path: Path) -> str:
    return subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout


@needs_pdftotext
def test_searchable_pdf_gives_its_text_back(tmp_path: Path) -> None:
    document = _document(pages=2)
    data = FORMATS["pdf"].write(document)
    assert FORMATS["pdf"].write(document) == data  # deterministic: the same document, the same bytes
    path = tmp_path / "document.pdf"
    path.write_bytes(data)
    pdf = pdfium.PdfDocument(data)
    assert [pdf[n].get_size() for n in range(len(pdf))] == [(400 * 72 / 150, 100 * 72 / 150)] * 2  # 150 dpi
    pages = read_pages(path)
    assert [page.image.shape for page in pages] == [(200, 800)] * 2  # rendered at 300 dpi
    assert _pdftotext(path).split() == ("Printed header " + TRICKY).split() * 2


@needs_pdftotext
def test_searchable_pdf_holds_any_text(tmp_path: Path) -> None:
    words = (
        Word((0, 0, 90, 40), "Łódź", 0.9),
        Word((100, 0, 0, 40), "café€", 0.9),
        Word((110, 0, 80, 40), "日本", 0.9),
    )
    lines = (Line((0, 0, 190, 40), "Łódź café€ 日本", 0.9, words=words), Line((0, 50, 190, 40), "no words", 0.5))
    path = tmp_path / "unicode.pdf"
    path.write_bytes(FORMATS["pdf"].write(Document("u", (Page(200, 100, Prediction("", 0.9, lines)),))))
    assert _pdftotext(path).split() == ["Łódź", "café€", "日本", "no", "words"]  # a box of no width too
    assert np.all(read_pages(path)[0].image == 255)  # no image: a blank page, the text invisible


def test_read_document_reads_each_page_as_dark_ink_on_light() -> None:
    class Recorder(Predictor):
        def __init__(self) -> None:
            self.calls: list[list[np.ndarray]] = []

        def predict_pages(self, pages: Sequence[np.ndarray]) -> list[Prediction]:
            self.calls.append(list(pages))
            return [Prediction("x", 0.5, (Line((0, 0, 5, 5), "x", 0.5),)) for _ in pages]

    inked = np.full((150, 300), 255, np.uint8)
    inked[50:100, 100:200] = 0
    predictor = Recorder()
    document = read_document(_pdf([inked, 255 - inked]), predictor, "two")  # the second light ink on black
    assert document.name == "two" and len(predictor.calls) == 2 and all(len(call) == 1 for call in predictor.calls)
    for page in document.pages:
        assert (page.width, page.height, page.dpi) == (300, 150, 300.0) and page.text == "x"
        assert page.image is not None and page.image[0, 0] > 200 and page.image[75, 150] < 50


def test_a_scanned_page_in_every_format(tmp_path: Path) -> None:
    """The page reader on a real scan (a printed block and handwriting) gives output every schema accepts."""
    document = read_document(SUPPORT_DIRNAME / "iam_pages" / "a01-014.jpg", load_predictor("page"), "a01-014")
    (page,) = document.pages
    assert (page.width, page.height, page.dpi) == (1240, 1771, 300.0)
    assert {line.kind for line in page.lines} == {"printed", "handwritten"}
    _validate(FORMATS["alto"].write(document), "alto-4-4.local.xsd")
    _validate(FORMATS["page"].write(document), "pagecontent-2019-07-15.xsd")
    ET.fromstring(FORMATS["hocr"].write(document))
    assert FORMATS["txt"].write(document).decode() == page.text + "\n"
    if shutil.which("pdftotext"):
        path = tmp_path / "a01-014.pdf"
        path.write_bytes(FORMATS["pdf"].write(document))
        assert pdfium.PdfDocument(path)[0].get_size() == pytest.approx((1240 * 72 / 300, 1771 * 72 / 300))
        assert character_error_rate([" ".join(_pdftotext(path).split())], [" ".join(page.text.split())]) < 0.02


@needs_pdftotext
def test_a_three_page_pdf_reads_and_its_searchable_pdf_keeps_the_page_cer(tmp_path: Path) -> None:
    names = ["a01-000x.png", "a01-014.png", "f02-020.png"]
    images = [np.asarray(Image.open(PARAGRAPHS / name).convert("L")) for name in names]
    document = read_document(_pdf(images), load_predictor("paragraph"), "three pages")
    truth = [PARAGRAPH_TEXTS[name] for name in names]
    for page, image in zip(document.pages, images, strict=True):  # PDF points round to a pixel either way
        assert abs(page.width - image.shape[1]) <= 1 and abs(page.height - image.shape[0]) <= 1
    for page in document.pages:
        for line in page.lines:
            assert " ".join(word.text for word in line.words) == line.text
            for word in line.words:
                x, y, w, h = word.box
                lx, ly, lw, lh = line.box
                assert lx <= x and x + w <= lx + lw and ly <= y and y + h <= ly + lh, (word, line.box)
    page_cer = character_error_rate([page.prediction.text for page in document.pages], truth)
    assert page_cer < 0.15
    path = tmp_path / "searchable.pdf"
    path.write_bytes(FORMATS["pdf"].write(document))
    text = _pdftotext(path)
    # pdftotext puts each line on a line of its own; it may leave blank lines between them.
    pdf_pages = ["\n".join(row for row in page.splitlines() if row.strip()) for page in text.split("\f")[:3]]
    assert abs(character_error_rate(pdf_pages, truth) - page_cer) <= 0.01, (pdf_pages, page_cer)
    for name, fmt in FORMATS.items():
        if name != "page":
            assert fmt.write(document)
    assert all(FORMATS["page"].write(Document("one", (page,))) for page in document.pages)
