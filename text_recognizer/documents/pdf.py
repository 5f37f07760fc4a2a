"""Searchable PDF: each page's image, with the text read laid over it invisibly, word by word.

    >>> from text_recognizer.documents import read_document
    >>> from text_recognizer.predictors import load_predictor
    >>> scan = "text_recognizer/tests/support/iam_pages/a01-014.jpg"
    >>> document = read_document(scan, load_predictor("page"), "a01-014")
    >>> from text_recognizer.documents import pdf
    >>> pdf.write(document)[:5]   # write it to a file, then: pdftotext a01-014.pdf - ; or select text in a viewer
    b'%PDF-'

Each page is as large as its image at its resolution (`Page.dpi`: 2479 pixels at 300 dpi are 8.26 inches). The image
is embedded as JPEG; over it each word is drawn in text render mode 3 (invisible, as OCR layers are), at its box:
its baseline a fifth of the line's height above the line's bottom, its font size the line's height, stretched
horizontally to the box's width, so that selecting a word in a viewer highlights the word on the image and search
finds it. A line read without words is drawn as one word in its box. A page without an image is blank under its text.

The text layer's font is glyphless, as Tesseract's and OCRmyPDF's are: one empty glyph for every character of the
Basic Multilingual Plane, embedded with a map back to Unicode, so any text the recognizer reads is searchable (a
standard font such as Helvetica holds only Windows-1252, and draws anything else as a box that extracts as "■").
"""

import base64
import functools
import io

from PIL import Image
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from text_recognizer.documents.boxes import line_words
from text_recognizer.documents.model import Document

FONT = "GlyphLess"
JPEG_QUALITY = 85
BASELINE_FRACTION = 0.2  # of the line's height, above its bottom: where descenders leave off (the font's descent)
_POINTS_PER_INCH = 72.0
_INVISIBLE = 3  # PDF text render mode: neither fill nor stroke

# A TrueType font of one empty glyph 500 units wide (of 1000 a point size; ascent 800, descent 200, so a selection
# spans the line's box) that a cmap of format 13 (many-to-one) gives every character U+0020..U+FFFF but surrogates.
# Made with fontTools' FontBuilder: glyph order [".notdef", "glyphless"], both empty pens, advance 500; hhea and
# OS/2 ascent 800, descent -200; cmap one format-13 subtable (3, 10). reportlab reads format 13 and subsets it.
_GLYPHLESS_TTF = base64.b64decode(
    "AAEAAAAKAIAAAwAgT1MvMkUAQ48AAAEoAAAAYGNtYXAAErhhAAABkAAAADRnbHlmAAAAAAAAAcwAAAABaGVhZC2CBmYAAACsAAAANmhoZWED"
    "IgEuAAAA5AAAACRobXR4AfQAAAAAAYgAAAAGbG9jYQAAAAAAAAHEAAAABm1heHAAAwACAAABCAAAACBuYW1lqZ2oKQAAAdAAAAB+cG9zdNnk"
    "7UIAAAJQAAAAMAABAAAAAQAArzdq+F8PPPUAAwPoAAAAAOc14sMAAAAA5zXiwwAAAAAAAAAAAAAAAwACAAAAAAAAAAEAAAMg/zgAAAH0AAAA"
    "AAAAAAEAAAAAAAAAAAAAAAAAAAABAAEAAAACAAAAAAAAAAAAAgAAAAAAAAAAAAAAAAAAAAAAAwH0AZAABQAEAAAAAAAAAAAAAAAAAAAAAAAA"
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAPz8/PwAAACD//wMg/zgAAAMgAMgAAAAAAAAAAAAAAAAAAAAgAAAB9AAAAAAAAAAAAAEA"
    "AwAKAAAADAANAAAAAAAoAAAAAAAAAAIAAAAgAADX/wAAAAEAAOAAAAD//wAAAAEAAAAAAAAAAAAAAAAAAAAGAE4AAQAAAAAAAQAJAAAAAQAA"
    "AAAAAgAHAAkAAQAAAAAABgAJAAAAAwABBAkAAQASABAAAwABBAkAAgAOACIAAwABBAkABgASABBHbHlwaExlc3NSZWd1bGFyAEcAbAB5AHAA"
    "aABMAGUAcwBzAFIAZQBnAHUAbABhAHIAAAACAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAIAAAECCWdseXBobGVzcw=="
)


@functools.cache
def _register_font() -> None:
    pdfmetrics.registerFont(TTFont(FONT, io.BytesIO(_GLYPHLESS_TTF)))


def write(document: Document) -> bytes:
    """The document as a PDF, one page per page (the same document gives the same bytes)."""
    _register_font()
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
                if not word.text.strip():
                    continue
                text = canvas.beginText(word.box[0] * points, baseline)
                text.setTextRenderMode(_INVISIBLE)
                text.setFont(FONT, size)
                # A box of no width still gets a sliver: a horizontal scale of 0 would hide the word from search.
                box_width = max(word.box[2], 1) * points
                text.setHorizScale(100 * box_width / pdfmetrics.stringWidth(word.text, FONT, size))
                text.textOut(word.text)
                canvas.drawText(text)
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()
