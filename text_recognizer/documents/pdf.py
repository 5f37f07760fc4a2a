"""Searchable PDF: each page's image, with the text read laid over it invisibly, word by word.

    >>> from text_recognizer.documents import pdf
    >>> Path("scan.pdf").write_bytes(pdf.write(document))   # then: pdftotext scan.pdf - ; or select text in a viewer

Each page is as large as its image at its resolution (`Page.dpi`: 2479 pixels at 300 dpi are 8.26 inches). The image
is embedded as JPEG; over it each word is drawn in text render mode 3 (invisible, as OCR layers are), at its box:
its baseline a fifth of the line's height above the line's bottom, its font size the line's height, stretched
horizontally to the box's width, so that selecting a word in a viewer highlights the word on the image and search
finds it. A line read without words is drawn as one word in its box. A page without an image is blank under its text.
"""

import io

from PIL import Image
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas

from text_recognizer.documents.boxes import line_words
from text_recognizer.documents.model import Document

FONT = "Helvetica"  # a standard PDF font: nothing embedded; its glyphs are never seen
JPEG_QUALITY = 85
_POINTS_PER_INCH = 72.0
_INVISIBLE = 3  # PDF text render mode: neither fill nor stroke
BASELINE_FRACTION = 0.2  # of the line's height, above its bottom: where descenders leave off


def write(document: Document) -> bytes:
    """The document as a PDF, one page per page."""
    buffer = io.BytesIO()
    canvas = Canvas(buffer, invariant=True, pageCompression=1)
    canvas.setTitle(document.name)
    canvas.setCreator("Text Recognizer")
    for page in document.pages:
        points = _POINTS_PER_INCH / page.dpi  # per pixel
        width, height = page.width * points, page.height * points
        canvas.setPageSize((width, height))
        if page.image is not None:
            jpeg = io.BytesIO()
            Image.fromarray(page.image).save(jpeg, format="JPEG", quality=JPEG_QUALITY)
            canvas.drawImage(ImageReader(io.BytesIO(jpeg.getvalue())), 0, 0, width, height)
        for line in page.lines:
            _, line_y, _, line_h = line.box
            size = max(line_h * points, 1.0)
            baseline = height - (line_y + line_h * (1 - BASELINE_FRACTION)) * points
            for word in line_words(line):
                natural = stringWidth(word.text, FONT, size)
                if not word.text.strip() or natural <= 0:
                    continue
                text = canvas.beginText(word.box[0] * points, baseline)
                text.setTextRenderMode(_INVISIBLE)
                text.setFont(FONT, size)
                text.setHorizScale(100 * word.box[2] * points / natural)
                text.textOut(word.text)
                canvas.drawText(text)
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()
