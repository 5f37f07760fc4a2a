"""Documents as people hold them, read into pages: images (PNG, JPEG, WebP, BMP), multi-page TIFFs, PDFs.

    >>> from text_recognizer.documents.readers import read_pages
    >>> pages = read_pages("text_recognizer/tests/support/iam_pages/a01-014.jpg")
    >>> len(pages), pages[0].image.shape, pages[0].dpi
    (1, (1771, 1240), 300.0)

Each page is greyscale uint8 as it would be seen (EXIF orientation applied, transparency on white, 16 bits scaled to
8); its ink polarity is left to the predictors (`preprocessing.as_page`). A PDF's pages are rendered at `PDF_DPI` by
PDFium (`pypdfium2`), so their pixel boxes map back to the PDF's points by `dpi`. Limits are checked before anything
large is decoded or rendered; whatever cannot be read is a `DocumentError` saying why.
"""

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import UnidentifiedImageError

from text_recognizer.documents.model import DEFAULT_DPI
from text_recognizer.util import MAX_IMAGE_PIXELS, ImageError, decode_data_url, decode_frames

if TYPE_CHECKING:
    import pypdfium2 as pdfium

#: Pages one document may have: a long letter or a short report, scanned. Every page is held at once (the searchable
#: PDF shows them): 50 A4 pages at 300 dpi are 435 MB of greyscale.
MAX_PAGES = 50
#: Pixels a page may have: the single-image limit (40 megapixels), which holds an A3 page at 400 dpi (31 MP) or an A4
#: page at 600 dpi (35 MP); a PDF page past it is refused from its size in points, before PDFium renders it.
MAX_PAGE_PIXELS = MAX_IMAGE_PIXELS
#: The resolution PDF pages are rendered at: what scanners save and the line reader reads well.
PDF_DPI = 300.0
_POINTS_PER_INCH = 72.0
#: What people send, named in the error for anything else (Pillow reads a few more: GIF, ...).
KNOWN_TYPES = "PNG, JPEG, TIFF, WebP, BMP"
# PDFium is not thread-safe (pypdfium2 says so): the API's and the batch jobs' threads take turns with it.
_PDFIUM = threading.Lock()


class DocumentError(ImageError):
    """A document that cannot be read: corrupt, encrypted, of too many pages or pixels, or of no known type."""


@dataclass(frozen=True)
class PageImage:
    """One page of a document: greyscale uint8 pixels as read, and its resolution in dots per inch."""

    image: np.ndarray
    dpi: float = DEFAULT_DPI


def read_pages(
    source: str | Path | bytes, max_pages: int = MAX_PAGES, max_pixels: int = MAX_PAGE_PIXELS
) -> list[PageImage]:
    """The pages of a document: a file path, its bytes, or a base64 `data:` URL."""
    data = _document_bytes(source)
    if not data:
        raise DocumentError("Empty document")
    if b"%PDF-" in data[:1024]:  # where readers look for the header: it may follow some junk
        return _pdf_pages(data, max_pages, max_pixels)
    try:
        frames = decode_frames(data, max_frames=max_pages, max_pixels=max_pixels)
    except DocumentError:
        raise
    except ImageError as e:  # one error type for every document, whichever reader refused it
        if isinstance(e.__cause__, UnidentifiedImageError):
            raise DocumentError(f"Not a readable image: neither an image ({KNOWN_TYPES}) nor a PDF") from e
        raise DocumentError(str(e)) from e
    return [PageImage(image, dpi or DEFAULT_DPI) for image, dpi in frames]


def _document_bytes(source: str | Path | bytes) -> bytes:
    if isinstance(source, bytes):
        return source
    if isinstance(source, str) and source.startswith("data:"):
        return decode_data_url(source)
    path = Path(source)
    if not path.is_file():
        raise DocumentError(f"No document file at {path}")
    return path.read_bytes()


def _pdf_pages(data: bytes, max_pages: int, max_pixels: int) -> list[PageImage]:
    """Each page of a PDF rendered at `PDF_DPI`, greyscale."""
    import pypdfium2 as pdfium  # imported here: images need none of PDFium

    with _PDFIUM:
        try:
            pdf = pdfium.PdfDocument(data)
        except pdfium.PdfiumError as e:
            if "password" in str(e).lower():
                raise DocumentError("The PDF is encrypted: it cannot be read without its password") from e
            raise DocumentError(f"Not a readable PDF: {e}") from e
        try:
            count = len(pdf)
            if count == 0:
                raise DocumentError("The PDF has no pages")
            if count > max_pages:
                raise DocumentError(f"The PDF has {count} pages; a document may have at most {max_pages} pages")
            return [_render(pdf, number, max_pixels) for number in range(count)]
        except pdfium.PdfiumError as e:
            raise DocumentError(f"Not a readable PDF: {e}") from e
        finally:
            pdf.close()


def _render(pdf: "pdfium.PdfDocument", number: int, max_pixels: int) -> PageImage:
    """Page `number` (from 0) of an open PDF at `PDF_DPI`, once its size at that resolution is known to be allowed."""
    page = pdf[number]
    try:
        scale = PDF_DPI / _POINTS_PER_INCH
        width, height = (round(side * scale) for side in page.get_size())  # in points, turned as the page shows
        if width * height > max_pixels:
            raise DocumentError(
                f"Page {number + 1} of the PDF is {width}x{height} pixels at {PDF_DPI:.0f} dpi; a page may have at "
                f"most {max_pixels} pixels"
            )
        if width < 1 or height < 1:
            raise DocumentError(f"Page {number + 1} of the PDF has no area")
        bitmap = page.render(scale=scale, grayscale=True)
        try:
            pixels = bitmap.to_numpy()  # a view of PDFium's buffer: copied before the bitmap is closed
            return PageImage(np.array(pixels.reshape(pixels.shape[:2])), PDF_DPI)
        finally:
            bitmap.close()
    finally:
        page.close()
