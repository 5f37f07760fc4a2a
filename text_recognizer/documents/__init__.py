"""Documents in and out: pages read from images, TIFFs and PDFs, and written as text, JSON, ALTO, PAGE XML, hOCR or a
searchable PDF.

    >>> from text_recognizer.documents import FORMATS, read_document
    >>> from text_recognizer.predictors import load_predictor
    >>> scan = "text_recognizer/tests/support/iam_pages/a01-014.jpg"
    >>> document = read_document(scan, load_predictor("page"), "a01-014")
    >>> alto = FORMATS["alto"]
    >>> document.name + alto.extension, alto.media_type, alto.write(document)[:5]
    ('a01-014.alto.xml', 'application/xml', b'<?xml')

A request's data flow: bytes -> `readers.read_pages` (pages as arrays) -> a predictor -> the document model
(`model.Document`: pages -> lines -> words) -> one writer per format. PAGE XML holds one page a file: write a longer
document's pages each as `Document(name, (page,))`.
"""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from text_recognizer.documents import alto, hocr, json_document, page_xml, pdf, text
from text_recognizer.documents.model import Document, Page
from text_recognizer.documents.readers import MAX_PAGE_PIXELS, MAX_PAGES, DocumentError, PageImage, read_pages
from text_recognizer.predictors.base import Predictor
from text_recognizer.preprocessing import as_page


@dataclass(frozen=True)
class Format:
    """An output format: its name, the file extension of its outputs, its media type, and its writer."""

    name: str
    extension: str
    media_type: str
    write: Callable[[Document], bytes]


#: The output formats by name.
FORMATS = {
    "txt": Format("txt", ".txt", "text/plain; charset=utf-8", text.write),
    "json": Format("json", ".json", "application/json", json_document.write),
    "alto": Format("alto", ".alto.xml", "application/xml", alto.write),
    "page": Format("page", ".page.xml", "application/xml", page_xml.write),
    "hocr": Format("hocr", ".hocr", "text/html; charset=utf-8", hocr.write),
    "pdf": Format("pdf", ".pdf", "application/pdf", pdf.write),
}


def read_document(
    source: str | Path | bytes,
    predictor: Predictor,
    name: str,
    max_pages: int = MAX_PAGES,
    max_pixels: int = MAX_PAGE_PIXELS,
) -> Document:
    """Every page of a document (a path, its bytes or a data URL) read by `predictor`, a page at a time."""
    pages = []
    for page_image in read_pages(source, max_pages, max_pixels):
        image = as_page(page_image.image)
        prediction = predictor.predict_pages([image])[0]
        pages.append(Page(image.shape[1], image.shape[0], prediction, page_image.dpi, image))
    return Document(name, tuple(pages))


__all__ = ["FORMATS", "MAX_PAGES", "MAX_PAGE_PIXELS", "Document", "DocumentError", "Format", "Page", "PageImage",
           "read_document", "read_pages"]  # fmt: skip
