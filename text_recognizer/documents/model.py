"""The document model every reader produces and every writer takes: pages -> lines -> words.

    >>> from text_recognizer.documents.model import Document, Page
    >>> from text_recognizer.predictors import load_predictor
    >>> prediction = load_predictor("page").predict(image)   # image: one page, greyscale
    >>> document = Document("scan", (Page(image.shape[1], image.shape[0], prediction, dpi=300, image=image),))
    >>> document.to_dict()["pages"][0]["lines"][0]["words"][0]   # {"box": [x, y, width, height], "text", ...}

A page's lines and words are the predictor's (`predictors.base.Line`, `Word`), their boxes `(x, y, width, height)`
in the pixels of the page image that was read.
"""

from dataclasses import dataclass
from typing import Any

import numpy as np

from text_recognizer.predictors.base import Line, Prediction

#: The resolution assumed for an image that does not state its own (a common scanning resolution).
DEFAULT_DPI = 300.0


@dataclass(frozen=True)
class Page:
    """One page read: its size in pixels, what the predictor read on it, its resolution (dots per inch, which sets
    its physical size in a PDF), and its image (greyscale, dark ink on light), which the searchable PDF shows."""

    width: int
    height: int
    prediction: Prediction
    dpi: float = DEFAULT_DPI
    image: np.ndarray | None = None

    @property
    def lines(self) -> tuple[Line, ...]:
        return self.prediction.lines

    @property
    def text(self) -> str:
        """Every line's text in reading order (printed lines too, which the prediction's text leaves out)."""
        return "\n".join(line.text for line in self.lines)

    def to_dict(self) -> dict[str, Any]:
        return {"width": self.width, "height": self.height, "lines": [line.to_dict() for line in self.lines]}


@dataclass(frozen=True)
class Document:
    """A document read: its name (the input's stem, for output names and titles) and its pages in order."""

    name: str
    pages: tuple[Page, ...]

    @property
    def text(self) -> str:
        """The pages' texts, a form feed between pages (as `pdftotext` separates them)."""
        return "\f".join(page.text for page in self.pages)

    def to_dict(self) -> dict[str, Any]:
        return {"pages": [page.to_dict() for page in self.pages]}
