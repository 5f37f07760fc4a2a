"""Predictors: an image in, a `Prediction` out, from the shipped artifacts alone (no TensorFlow, no data sets).

>>> from text_recognizer.predictors import MODES, load_predictor
>>> load_predictor("paragraph").predict("text_recognizer/tests/support/iam_paragraphs/a01-014.png").text
"""

from text_recognizer.predictors.base import Box, ImageSource, Line, Prediction, Predictor, Word
from text_recognizer.predictors.character import CharacterPredictor
from text_recognizer.predictors.line import LinePredictor, best_shipped_dataset
from text_recognizer.predictors.page import PageTextRecognizer, ParagraphTextRecognizer

#: What an image can hold, each with a shipped predictor (`load_predictor`).
MODES = ("line", "paragraph", "page", "character")

__all__ = ["MODES", "Box", "CharacterPredictor", "ImageSource", "Line", "LinePredictor", "PageTextRecognizer",
           "ParagraphTextRecognizer", "Prediction", "Predictor", "Word", "load_predictor"]  # fmt: skip


def load_predictor(mode: str, network: str = "lenet") -> Predictor:
    """The shipped predictor for a mode of `MODES`: "character" (model `network`), "line" (the best shipped line
    model), "paragraph" (a handwritten region cut from its page) or "page" (a whole page as scanned: printed and
    handwritten lines, `text` the handwriting)."""
    if mode == "character":
        return CharacterPredictor(network)
    if mode == "line":
        return LinePredictor(best_shipped_dataset())
    if mode == "paragraph":
        return ParagraphTextRecognizer()
    if mode == "page":
        return PageTextRecognizer()
    raise ValueError(f"Unknown mode {mode!r}; choose one of {', '.join(MODES)}")
