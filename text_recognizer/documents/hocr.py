"""hOCR 1.2: XHTML whose elements carry the layout in their classes and `title` properties (Tesseract writes it).

    >>> from text_recognizer.documents import read_document
    >>> from text_recognizer.predictors import load_predictor
    >>> scan = "text_recognizer/tests/support/iam_pages/a01-014.jpg"
    >>> document = read_document(scan, load_predictor("page"), "a01-014")
    >>> from text_recognizer.documents import hocr
    >>> b'title="image &quot;a01-014&quot;; bbox 0 0 1240 1771; ppageno 0"' in hocr.write(document)
    True

A `div.ocr_page` per page (`bbox` of the page, `ppageno` from 0), a `div.ocr_carea` and `p.ocr_par` per run of lines of
one kind, a `span.ocr_line` per line and a `span.ocrx_word` per word, each with its `bbox x0 y0 x1 y1` (pixels) and
`x_wconf` (confidence, 0-100). A line's kind is the engine-specific property `x_kind` (the specification's way for
properties it does not define).
"""

import xml.etree.ElementTree as ET

from text_recognizer.documents.boxes import corners, kind_runs, line_words, union
from text_recognizer.documents.model import Document
from text_recognizer.predictors.base import Box

NAMESPACE = "http://www.w3.org/1999/xhtml"
CAPABILITIES = "ocr_page ocr_carea ocr_par ocr_line ocrx_word ocrp_wconf"
_DOCTYPE = (
    '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" '
    '"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">\n'
)


def _bbox(box: Box) -> str:
    return "bbox {} {} {} {}".format(*corners(box))


def write(document: Document) -> bytes:
    """The document as hOCR (XHTML, UTF-8)."""
    ET.register_namespace("", NAMESPACE)
    html = ET.Element(f"{{{NAMESPACE}}}html", {"lang": "en"})

    def child(parent: ET.Element, tag: str, attributes: dict[str, str] | None = None) -> ET.Element:
        return ET.SubElement(parent, f"{{{NAMESPACE}}}{tag}", attributes or {})

    head = child(html, "head")
    child(head, "title").text = document.name
    child(head, "meta", {"http-equiv": "Content-Type", "content": "text/html; charset=utf-8"})
    child(head, "meta", {"name": "ocr-system", "content": "text-recognizer"})
    child(head, "meta", {"name": "ocr-capabilities", "content": CAPABILITIES})
    body = child(html, "body")
    for p, page in enumerate(document.pages, 1):
        title = f'image "{document.name}"; {_bbox((0, 0, page.width, page.height))}; ppageno {p - 1}'
        page_element = child(body, "div", {"class": "ocr_page", "id": f"page_{p}", "title": title})
        for b, block in enumerate(kind_runs(page.lines), 1):
            box = _bbox(union([line.box for line in block]))
            area = child(page_element, "div", {"class": "ocr_carea", "id": f"block_{p}_{b}", "title": box})
            paragraph = child(area, "p", {"class": "ocr_par", "id": f"par_{p}_{b}", "title": box})
            for n, line in enumerate(block, 1):
                line_title = f"{_bbox(line.box)}; x_wconf {round(100 * line.confidence)}; x_kind {line.kind}"
                line_element = child(paragraph, "span", {"class": "ocr_line", "id": f"line_{p}_{b}_{n}",
                                                         "title": line_title})  # fmt: skip
                words = line_words(line)
                for w, word in enumerate(words, 1):
                    word_title = f"{_bbox(word.box)}; x_wconf {round(100 * word.confidence)}"
                    word_element = child(line_element, "span", {"class": "ocrx_word", "id": f"word_{p}_{b}_{n}_{w}",
                                                                "title": word_title})  # fmt: skip
                    word_element.text = word.text
                    word_element.tail = " " if w < len(words) else None
    body_text = ET.tostring(html, encoding="unicode")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + _DOCTYPE + body_text + "\n").encode()
