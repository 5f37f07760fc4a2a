"""ALTO (v2 to v4) files: one a page, `TextLine` boxes (`HPOS`, `VPOS`, `WIDTH`, `HEIGHT`, in pixels) whose
`String@CONTENT`s, joined with spaces, are the line's text.

    >>> from text_recognizer.datasets.importers.alto import parse_alto
    >>> page = parse_alto(Path("export/0001.xml"))
    >>> page.lines[0].box, page.lines[0].text
    ((120.0, 330.0, 1480.0, 96.0), 'A MOVE to stop Mr. Gaitskell from')

A line's `Shape/Polygon` outline, where it has one, is taken over its box. Only pixel measurements are read: `mm10`
and `inch1200` need the scan's resolution, which ALTO does not carry reliably.
"""

from pathlib import Path
from xml.etree import ElementTree

from text_recognizer.datasets.importers.base import (
    ImportedLine,
    ImportedPage,
    ImportFormatError,
    Point,
    parse_points,
)
from text_recognizer.datasets.importers.page_xml import find_image, read_xml

NAMESPACE_PREFIX = "http://www.loc.gov/standards/alto/"


def is_alto(root: ElementTree.Element) -> bool:
    return root.tag.startswith("{" + NAMESPACE_PREFIX) and root.tag.endswith("}alto")


def parse_alto(path: Path, root: ElementTree.Element | None = None) -> ImportedPage:
    """The page of one ALTO file (parsed already as `root`, or read from `path`)."""
    root = read_xml(path) if root is None else root
    if not is_alto(root):
        raise ImportFormatError(path, f"not ALTO: the root element is {root.tag}, not {NAMESPACE_PREFIX}*}}alto")
    ns = {"a": root.tag[1:].split("}", 1)[0]}
    unit = (root.findtext("a:Description/a:MeasurementUnit", "pixel", ns) or "pixel").strip()
    if unit != "pixel":
        raise ImportFormatError(path, f"MeasurementUnit is {unit!r}; only 'pixel' can be imported")
    image = (root.findtext("a:Description/a:sourceImageInformation/a:fileName", "", ns) or "").strip()
    if not image:
        raise ImportFormatError(path, "no Description/sourceImageInformation/fileName names the page image")
    lines = []
    for number, line in enumerate(root.iter(f"{{{ns['a']}}}TextLine"), start=1):
        where = f"TextLine {line.get('ID') or number}"
        text = " ".join(s.get("CONTENT", "").strip() for s in line.findall("a:String", ns) if s.get("CONTENT"))
        lines.append(ImportedLine(text, _outline(path, line, ns, where)))
    return ImportedPage(id=path.stem, image=find_image(path, image), lines=tuple(lines))


def _outline(path: Path, line: ElementTree.Element, ns: dict[str, str], where: str) -> tuple[Point, ...]:
    polygon = line.find("a:Shape/a:Polygon", ns)
    if polygon is not None and polygon.get("POINTS"):
        return parse_points(path, str(polygon.get("POINTS")), where)
    try:
        x, y, w, h = (float(line.get(key, "")) for key in ("HPOS", "VPOS", "WIDTH", "HEIGHT"))
    except ValueError:
        raise ImportFormatError(path, f"{where} lacks a numeric HPOS, VPOS, WIDTH or HEIGHT") from None
    if w <= 0 or h <= 0:
        raise ImportFormatError(path, f"{where} has no area (WIDTH {w:g}, HEIGHT {h:g})")
    return ((x, y), (x + w, y), (x + w, y + h), (x, y + h))
