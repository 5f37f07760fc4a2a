"""What every predictor shares: the one result type, and reading images from wherever they are.

>>> from text_recognizer.predictors import load_predictor
>>> prediction = load_predictor("line").predict("text_recognizer/tests/support/iam_lines/f02-020-07.png")
>>> prediction.text, prediction.confidence, prediction.lines[0].box
('taken part.', 0.98..., (0, 0, 172, 56))
"""

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from text_recognizer.preprocessing import as_page
from text_recognizer.util import read_image

#: An image as users hold it: a file path, encoded bytes, a `data:` URL, or a greyscale or colour array.
ImageSource = str | Path | bytes | np.ndarray
#: (x, y, width, height) in the pixels of the image read.
Box = tuple[int, int, int, int]
#: What a line holds.
KINDS = ("handwritten", "printed")


@dataclass(frozen=True)
class Word:
    """One word of a line: its box (inside its line's, in the pixels of the image read), text and confidence."""

    box: Box
    text: str
    confidence: float

    def to_dict(self) -> dict[str, Any]:
        return {"box": list(self.box), "text": self.text, "confidence": self.confidence}


@dataclass(frozen=True)
class Line:
    """One line of an image: its box, text, the confidence in that text, whether it is handwritten or printed, and
    its words (their texts joined with single spaces are the line's text)."""

    box: Box
    text: str
    confidence: float
    kind: str = "handwritten"
    words: tuple[Word, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "box": list(self.box),
            "text": self.text,
            "confidence": self.confidence,
            "kind": self.kind,
            "words": [word.to_dict() for word in self.words],
        }


@dataclass(frozen=True)
class Prediction:
    """What any predictor reads in an image: its text (lines joined with newlines), a confidence in it, and its
    lines (one for a line image, none for a character)."""

    text: str
    confidence: float
    lines: tuple[Line, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "confidence": self.confidence, "lines": [line.to_dict() for line in self.lines]}


class Predictor:
    """Reads images with a shipped artifact; subclasses implement `predict_pages`."""

    def predict(self, image: ImageSource) -> Prediction:
        """What the image (path, encoded bytes, data URL or array, either ink polarity) holds."""
        return self.predict_batch([image])[0]

    def predict_batch(self, images: Sequence[ImageSource]) -> list[Prediction]:
        return self.predict_pages([as_page(read_image(image)) for image in images])

    def predict_pages(self, pages: Sequence[np.ndarray]) -> list[Prediction]:
        """Predictions for greyscale pages, dark ink on light (see `preprocessing.as_page`)."""
        raise NotImplementedError
