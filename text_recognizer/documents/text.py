"""Plain text: each page's lines in reading order, one a line, pages separated by a form feed.

    >>> from text_recognizer.documents import read_document
    >>> from text_recognizer.predictors import load_predictor
    >>> scan = "text_recognizer/tests/support/iam_pages/a01-014.jpg"
    >>> document = read_document(scan, load_predictor("page"), "a01-014")
    >>> from text_recognizer.documents import text
    >>> text.write(document).decode().splitlines() == document.pages[0].text.splitlines()
    True

Printed lines are in it too, in their place (a form's printed block first); `json` and the XML formats tell them apart.
"""

from text_recognizer.documents.model import Document


def write(document: Document) -> bytes:
    """The document as UTF-8 text, ending with a newline."""
    return (document.text + "\n").encode()
