"""Plain text: each page's lines in reading order, one a line, pages separated by a form feed.

    >>> from text_recognizer.documents import text
    >>> text.write(document).decode().splitlines()[0]   # document: a `Document`
    'Sir Roy is boycotting the talks'

Printed lines are in it too, in their place (a form's printed block first); `json` and the XML formats tell them apart.
"""

from text_recognizer.documents.model import Document


def write(document: Document) -> bytes:
    """The document as UTF-8 text, ending with a newline."""
    return (document.text + "\n").encode()
