"""The FSDL handwriting export (Dataturks JSON lines, see `fsdl_handwriting_dataset`) as imported pages: lines in
fractions of their page, images at their URLs.

    >>> from text_recognizer.datasets.importers.fsdl import parse_fsdl_export
    >>> pages, skipped = parse_fsdl_export(Path("fsdl_handwriting.json"))
    >>> pages[0].relative, pages[0].image[:8]
    (True, 'https://')
"""

from pathlib import Path

from text_recognizer.datasets.dataset import DataError
from text_recognizer.datasets.fsdl_handwriting_dataset import FsdlLine, parse_export
from text_recognizer.datasets.importers.base import ImportedLine, ImportedPage, ImportFormatError, Point


def parse_fsdl_export(path: Path) -> tuple[list[ImportedPage], int]:
    """The export's pages, and how many annotations were skipped (not a line, or no area)."""
    try:
        content = path.read_text(encoding="utf-8")
        fsdl_pages, skipped = parse_export(content)
    except UnicodeDecodeError as e:
        raise ImportFormatError(path, f"not UTF-8 text (byte {e.start}: {e.reason})") from None
    except OSError as e:
        raise ImportFormatError(path, f"cannot be read: {e.strerror or e}") from None
    except DataError as e:  # its message says which line of the export and why
        raise ImportFormatError(path, str(e)) from None
    pages = [
        ImportedPage(page.id, page.url, tuple(ImportedLine(line.text, _outline(line)) for line in page.lines), True)
        for page in fsdl_pages
    ]
    return pages, skipped


def _outline(line: FsdlLine) -> tuple[Point, ...]:
    """A polygon annotation's points (clipped to the page); a rectangle's (two corners) as its four."""
    if line.shape == "polygon" and len(line.points) >= 3:
        return tuple((min(max(x, 0.0), 1.0), min(max(y, 0.0), 1.0)) for x, y in line.points)
    x, y, w, h = line.box
    return ((x, y), (x + w, y), (x + w, y + h), (x, y + h))
