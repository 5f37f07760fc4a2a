"""PAGE XML (what Transkribus and eScriptorium export): one XML file a page, `TextLine/Coords@points` polygons in page
pixels and `TextLine/TextEquiv/Unicode` texts.

    >>> from text_recognizer.datasets.importers.page_xml import parse_page_xml
    >>> page = parse_page_xml(Path("export/page/0001.xml"))
    >>> page.image, page.lines[0].text     # the image is found beside the XML or one folder up (Transkribus)
    ('export/0001.jpg', 'A MOVE to stop Mr. Gaitskell from')

The 2019 schema (http://schema.primaresearch.org/PAGE/gts/pagecontent/2019-07-15) and the older ones (2013, 2010)
read alike. A line without its own `TextEquiv` takes its words' texts, joined with spaces.
"""

from pathlib import Path
from xml.etree import ElementTree

from text_recognizer.datasets.importers.base import ImportedLine, ImportedPage, ImportFormatError, parse_points

NAMESPACE_PREFIX = "http://schema.primaresearch.org/PAGE/gts/pagecontent/"


def is_page_xml(root: ElementTree.Element) -> bool:
    return root.tag.startswith("{" + NAMESPACE_PREFIX) and root.tag.endswith("}PcGts")


def parse_page_xml(path: Path, root: ElementTree.Element | None = None) -> ImportedPage:
    """The page of one PAGE XML file (parsed already as `root`, or read from `path`)."""
    root = read_xml(path) if root is None else root
    if not is_page_xml(root):
        raise ImportFormatError(path, f"not PAGE XML: the root element is {root.tag}, not {NAMESPACE_PREFIX}*}}PcGts")
    ns = {"p": root.tag[1:].split("}", 1)[0]}
    page = root.find("p:Page", ns)
    if page is None or not page.get("imageFilename"):
        raise ImportFormatError(path, "no Page element with an imageFilename")
    lines = []
    for number, line in enumerate(page.iter(f"{{{ns['p']}}}TextLine"), start=1):
        where = f"TextLine {line.get('id') or number}"
        coords = line.find("p:Coords", ns)
        if coords is None or not coords.get("points"):
            raise ImportFormatError(path, f"{where} has no Coords points")
        lines.append(ImportedLine(_line_text(line, ns), parse_points(path, str(coords.get("points")), where)))
    image = find_image(path, str(page.get("imageFilename")))
    return ImportedPage(id=path.stem, image=image, lines=tuple(lines))


def _line_text(line: ElementTree.Element, ns: dict[str, str]) -> str:
    """The line's own TextEquiv (the one of lowest index), else its words' joined with spaces."""
    equivs = line.findall("p:TextEquiv", ns)
    if equivs:
        best = min(equivs, key=lambda equiv: int(equiv.get("index") or 0))
        return (best.findtext("p:Unicode", "", ns) or "").strip()
    words = [word.findtext("p:TextEquiv/p:Unicode", "", ns) or "" for word in line.findall("p:Word", ns)]
    return " ".join(word.strip() for word in words if word.strip())


def read_xml(path: Path) -> ElementTree.Element:
    """The root element of an XML file; an error naming the file where it is not well-formed XML."""
    try:
        return ElementTree.parse(path).getroot()
    except ElementTree.ParseError as e:
        raise ImportFormatError(path, f"not well-formed XML: {e}") from None
    except OSError as e:
        raise ImportFormatError(path, f"cannot be read: {e.strerror or e}") from None


def find_image(xml_path: Path, name: str) -> str:
    """The page image an XML file names: a URL as it is, else a file beside the XML or one folder up (Transkribus
    puts the XML in `page/` beside the images)."""
    if name.startswith(("http://", "https://")):
        return name
    for folder in (xml_path.parent, xml_path.parent.parent):
        candidate = folder / name
        if candidate.is_file():
            return str(candidate)
    raise ImportFormatError(xml_path, f"its image {name!r} is neither beside it nor in {xml_path.parent.parent}")
