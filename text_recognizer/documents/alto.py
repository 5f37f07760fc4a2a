"""ALTO 4.4 (the Library of Congress' layout and text format; kraken, Tesseract and eScriptorium read it).

    >>> from text_recognizer.documents import read_document
    >>> from text_recognizer.predictors import load_predictor
    >>> scan = "text_recognizer/tests/support/iam_pages/a01-014.jpg"
    >>> document = read_document(scan, load_predictor("page"), "a01-014")
    >>> from text_recognizer.documents import alto
    >>> alto.write(document).splitlines()[1].split(b" xmlns:xsi")[0]
    b'<alto xmlns="http://www.loc.gov/standards/alto/ns-v4#"'

One `Page` per page (`WIDTH`/`HEIGHT` in pixels, `MeasurementUnit` pixel), a `TextBlock` per run of lines of one kind,
a `TextLine` per line with its `String`s (a word each, `WC` its confidence) and `SP` between them. A line's kind is a
tag, as kraken marks its line types: `TAGREFS` points at the `OtherTag` (`TYPE` "kind") "handwritten" or "printed"
declared under `Tags`.
"""

import xml.etree.ElementTree as ET

from text_recognizer.documents.boxes import kind_runs, line_words, union
from text_recognizer.documents.model import Document
from text_recognizer.predictors.base import KINDS, Box

NAMESPACE = "http://www.loc.gov/standards/alto/ns-v4#"
SCHEMA_LOCATION = f"{NAMESPACE} http://www.loc.gov/standards/alto/v4/alto-4-4.xsd"
_XSI = "http://www.w3.org/2001/XMLSchema-instance"


def _position(element: ET.Element, box: Box) -> None:
    x, y, w, h = box
    element.attrib.update(HPOS=str(x), VPOS=str(y), WIDTH=str(w), HEIGHT=str(h))


def write(document: Document) -> bytes:
    """The document as ALTO 4.4 XML (UTF-8)."""
    ET.register_namespace("", NAMESPACE)
    ET.register_namespace("xsi", _XSI)
    root = ET.Element(f"{{{NAMESPACE}}}alto", {f"{{{_XSI}}}schemaLocation": SCHEMA_LOCATION})

    def child(parent: ET.Element, tag: str, attributes: dict[str, str] | None = None) -> ET.Element:
        return ET.SubElement(parent, f"{{{NAMESPACE}}}{tag}", attributes or {})

    description = child(root, "Description")
    child(description, "MeasurementUnit").text = "pixel"
    child(child(description, "sourceImageInformation"), "fileName").text = document.name
    software = child(child(child(description, "OCRProcessing", {"ID": "OCR_0"}), "ocrProcessingStep"),
                     "processingSoftware")  # fmt: skip
    child(software, "softwareName").text = "Text Recognizer"
    tags = child(root, "Tags")
    for kind in KINDS:
        child(tags, "OtherTag", {"ID": f"KIND_{kind}", "TYPE": "kind", "LABEL": kind,
                                 "DESCRIPTION": f"{kind} text"})  # fmt: skip
    layout = child(root, "Layout")
    for p, page in enumerate(document.pages, 1):
        page_element = child(layout, "Page", {"ID": f"page_{p}", "PHYSICAL_IMG_NR": str(p),
                                              "WIDTH": str(page.width), "HEIGHT": str(page.height)})  # fmt: skip
        space = child(page_element, "PrintSpace")
        _position(space, (0, 0, page.width, page.height))
        for b, block in enumerate(kind_runs(page.lines), 1):
            block_element = child(space, "TextBlock", {"ID": f"p{p}_b{b}"})
            _position(block_element, union([line.box for line in block]))
            for n, line in enumerate(block, 1):
                line_id = f"p{p}_b{b}_l{n}"
                line_element = child(block_element, "TextLine", {"ID": line_id, "TAGREFS": f"KIND_{line.kind}"})
                _position(line_element, line.box)
                for w, word in enumerate(line_words(line), 1):
                    if w > 1:
                        child(line_element, "SP")
                    string = child(line_element, "String", {"ID": f"{line_id}_w{w}", "CONTENT": word.text,
                                                             "WC": f"{word.confidence:.4f}"})  # fmt: skip
                    _position(string, word.box)
    return ET.tostring(root, encoding="UTF-8", xml_declaration=True)
