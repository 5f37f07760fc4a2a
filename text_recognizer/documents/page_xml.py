"""PAGE XML 2019-07-15 (PRImA's page content format; Transkribus, eScriptorium, OCR-D and kraken exchange it).

    >>> from text_recognizer.documents import read_document
    >>> from text_recognizer.predictors import load_predictor
    >>> scan = "text_recognizer/tests/support/iam_pages/a01-014.jpg"
    >>> document = read_document(scan, load_predictor("page"), "a01-014")
    >>> from text_recognizer.documents import Document, page_xml
    >>> page_xml.write(Document("a01-014", document.pages[:1])).splitlines()[1].split(b" xmlns:xsi")[0]
    b'<PcGts xmlns="http://schema.primaresearch.org/PAGE/gts/pagecontent/2019-07-15"'

A PAGE file holds one page: `write` takes a one-page document (split a longer one: `Document(name, (page,))`). A
`TextRegion` per run of lines of one kind, a `TextLine` per line with its `Word`s, each with its `Coords` (the box's
corners, clockwise from the top left) and `TextEquiv` (`conf` and `Unicode`). A line's and its region's kind is in
`custom` ("structure {type:handwritten;}" or printed, as Transkribus tags structure); printed regions also say
`production="printed"`, which the schema defines (it has no plain "handwritten" value).
"""

import datetime
import xml.etree.ElementTree as ET

from text_recognizer.documents.boxes import corners, kind_runs, line_words, union
from text_recognizer.documents.model import Document
from text_recognizer.predictors.base import Box

NAMESPACE = "http://schema.primaresearch.org/PAGE/gts/pagecontent/2019-07-15"
SCHEMA_LOCATION = f"{NAMESPACE} {NAMESPACE}/pagecontent.xsd"
_XSI = "http://www.w3.org/2001/XMLSchema-instance"


def _points(box: Box) -> str:
    x0, y0, x1, y1 = corners(box)
    return f"{x0},{y0} {x1},{y0} {x1},{y1} {x0},{y1}"


def write(document: Document) -> bytes:
    """The one page of `document` as PAGE XML (UTF-8); a ValueError for a document of several pages."""
    if len(document.pages) != 1:
        raise ValueError(f"A PAGE XML file holds one page; the document has {len(document.pages)}: write each alone")
    page = document.pages[0]
    ET.register_namespace("", NAMESPACE)
    ET.register_namespace("xsi", _XSI)
    root = ET.Element(f"{{{NAMESPACE}}}PcGts", {f"{{{_XSI}}}schemaLocation": SCHEMA_LOCATION})

    def child(parent: ET.Element, tag: str, attributes: dict[str, str] | None = None) -> ET.Element:
        return ET.SubElement(parent, f"{{{NAMESPACE}}}{tag}", attributes or {})

    def text_equiv(parent: ET.Element, text: str, confidence: float | None = None) -> None:
        attributes = {} if confidence is None else {"conf": f"{confidence:.4f}"}
        child(child(parent, "TextEquiv", attributes), "Unicode").text = text

    metadata = child(root, "Metadata")
    child(metadata, "Creator").text = "Text Recognizer"
    now = datetime.datetime.now(datetime.UTC).replace(microsecond=0).isoformat()
    child(metadata, "Created").text = now
    child(metadata, "LastChange").text = now
    page_element = child(root, "Page", {"imageFilename": document.name, "imageWidth": str(page.width),
                                        "imageHeight": str(page.height)})  # fmt: skip
    for r, region in enumerate(kind_runs(page.lines), 1):
        kind = region[0].kind
        attributes = {"id": f"r{r}", "type": "paragraph", "custom": f"structure {{type:{kind};}}"}
        if kind == "printed":
            attributes["production"] = "printed"
        region_element = child(page_element, "TextRegion", attributes)
        child(region_element, "Coords", {"points": _points(union([line.box for line in region]))})
        for n, line in enumerate(region, 1):
            line_id = f"r{r}_l{n}"
            line_element = child(region_element, "TextLine", {"id": line_id, "custom": f"structure {{type:{kind};}}"})
            child(line_element, "Coords", {"points": _points(line.box)})
            for w, word in enumerate(line_words(line), 1):
                word_element = child(line_element, "Word", {"id": f"{line_id}_w{w}"})
                child(word_element, "Coords", {"points": _points(word.box)})
                text_equiv(word_element, word.text, word.confidence)
            text_equiv(line_element, line.text, line.confidence)
        text_equiv(region_element, "\n".join(line.text for line in region))
    return ET.tostring(root, encoding="UTF-8", xml_declaration=True)
