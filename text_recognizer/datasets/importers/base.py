"""The one internal form every importer returns: pages (an image and its lines), each line a polygon and its text.

>>> from text_recognizer.datasets.importers.base import ImportedLine
>>> ImportedLine("taken part.", ((10, 5), (90, 5), (90, 30), (10, 30))).box
(10, 5, 80, 25)
"""

import math
from dataclasses import dataclass, field
from pathlib import Path

from text_recognizer.datasets.dataset import DataError

Point = tuple[float, float]
Box = tuple[int, int, int, int]  # x, y, width, height in page pixels


class ImportFormatError(DataError):
    """A file of an export cannot be imported; the message names the file and what is wrong with it."""

    def __init__(self, path: Path | str, problem: str):
        super().__init__(f"{path}: {problem}")
        self.path, self.problem = Path(path), problem


@dataclass(frozen=True)
class ImportedLine:
    """A line's outline (page pixels, or fractions of the page where its page is `relative`) and its text ("" if
    none was given)."""

    text: str
    polygon: tuple[Point, ...]

    @property
    def box(self) -> tuple[float, float, float, float]:
        """The polygon's bounding box (x, y, width, height), in the polygon's units."""
        xs, ys = [x for x, _ in self.polygon], [y for _, y in self.polygon]
        return min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)

    def pixel_polygon(self, width: int, height: int, relative: bool) -> tuple[tuple[int, int], ...]:
        """The polygon in the pixels of a page `width` x `height`."""
        sx, sy = (width, height) if relative else (1, 1)
        return tuple((round(x * sx), round(y * sy)) for x, y in self.polygon)

    def pixel_box(self, width: int, height: int, relative: bool) -> Box:
        """The bounding box in the pixels of a page `width` x `height`, clipped to it (at least 1 x 1)."""
        x, y, w, h = self.box
        sx, sy = (width, height) if relative else (1, 1)
        left, top = min(max(math.floor(x * sx), 0), width - 1), min(max(math.floor(y * sy), 0), height - 1)
        right, bottom = min(math.ceil((x + w) * sx), width), min(math.ceil((y + h) * sy), height)
        return left, top, max(right - left, 1), max(bottom - top, 1)


@dataclass(frozen=True)
class ImportedPage:
    """A page: its id (unique within its source), image (a local path or an http(s) URL), lines in reading order.

    `relative`: the lines' coordinates are fractions of the image's width and height (FSDL's export; line folders,
    where the whole image is the line). `split`: the split the source gives the page, if any.
    """

    id: str
    image: str
    lines: tuple[ImportedLine, ...]
    relative: bool = False
    split: str | None = None

    @property
    def is_remote(self) -> bool:
        return self.image.startswith(("http://", "https://"))


@dataclass
class ImportedSource:
    """Everything imported from one export: its pages, its format, the files it was read from (for its hash)."""

    location: Path
    format: str
    pages: list[ImportedPage]
    files: list[Path] = field(default_factory=list)
    skipped: int = 0  # annotations that are no line (FSDL: other labels, no area); images without a text

    @property
    def num_lines(self) -> int:
        return sum(len(page.lines) for page in self.pages)


def parse_points(path: Path, text: str, where: str) -> tuple[Point, ...]:
    """Points written `x1,y1 x2,y2 ...` (PAGE XML's Coords@points, ALTO's Polygon@POINTS may use spaces only)."""
    numbers = text.replace(",", " ").split()
    try:
        values = [float(number) for number in numbers]
    except ValueError:
        raise ImportFormatError(path, f"{where}: points {text!r} are not numbers") from None
    if len(values) < 4 or len(values) % 2 or not all(math.isfinite(v) for v in values):
        raise ImportFormatError(path, f"{where}: points {text!r} are not two or more x,y pairs")
    return tuple(zip(values[::2], values[1::2], strict=True))


def check_unique_ids(path: Path, pages: list[ImportedPage]) -> None:
    """Raise naming the first page id that two pages of an export share."""
    seen: set[str] = set()
    for page in pages:
        if page.id in seen:
            raise ImportFormatError(path, f"two pages have the id {page.id!r}")
        seen.add(page.id)
