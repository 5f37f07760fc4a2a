"""JSON: `{"pages": [{"width", "height", "lines": [{"box", "text", "confidence", "kind", "words": [...]}]}]}`.

    >>> from text_recognizer.documents import read_document
    >>> from text_recognizer.predictors import load_predictor
    >>> scan = "text_recognizer/tests/support/iam_pages/a01-014.jpg"
    >>> document = read_document(scan, load_predictor("page"), "a01-014")
    >>> import json
    >>> from text_recognizer.documents import json_document
    >>> sorted(json.loads(json_document.write(document))["pages"][0]["lines"][0]["words"][0])
    ['box', 'confidence', 'text']

Boxes are `[x, y, width, height]` in the pixels of the page image read (a PDF's at its `dpi`, 300).
"""

import json

from text_recognizer.documents.model import Document


def write(document: Document) -> bytes:
    """The document as UTF-8 JSON (non-ASCII text kept as it is)."""
    return json.dumps(document.to_dict(), ensure_ascii=False).encode()
