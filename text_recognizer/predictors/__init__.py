"""Predictors: an image in, a `Prediction` out, from the shipped artifacts alone (no TensorFlow, no data sets).

>>> from text_recognizer.predictors import MODES, load_predictor
>>> load_predictor("paragraph").predict("text_recognizer/tests/support/iam_paragraphs/a01-014.png").text
"""

import os

from text_recognizer.predictors.base import Box, ImageSource, Line, Prediction, Predictor, Word
from text_recognizer.predictors.character import CharacterPredictor
from text_recognizer.predictors.line import LinePredictor, best_shipped_dataset
from text_recognizer.predictors.page import PageTextRecognizer, ParagraphTextRecognizer

#: The environment variable naming the line artifact that `load_predictor` reads lines with.
LINE_MODEL_ENV_VAR = "TEXT_RECOGNIZER_LINE_MODEL"
#: What an image can hold, each with a shipped predictor (`load_predictor`).
MODES = ("line", "paragraph", "page", "character")

__all__ = ["LINE_MODEL_ENV_VAR", "MODES", "Box", "CharacterPredictor", "ImageSource", "Line", "LinePredictor",
           "PageTextRecognizer", "ParagraphTextRecognizer", "Prediction", "Predictor", "Word",
           "load_predictor"]  # fmt: skip


def load_predictor(mode: str, network: str = "lenet", line_model: str | None = None) -> Predictor:
    """The shipped predictor for a mode of `MODES`: "character" (model `network`), "line" (the best shipped line
    model), "paragraph" (a handwritten region cut from its page) or "page" (a whole page as scanned: printed and
    handwritten lines, `text` the handwriting).

    The line, paragraph and page modes read lines with `line_model` (an artifact's name, e.g. one made by
    `tasks/finetune_line_predictor.sh`), else the one `$TEXT_RECOGNIZER_LINE_MODEL` names (how the API, `read`'s
    workers and Ray's actors are told), else the best shipped one."""
    if mode == "character":
        return CharacterPredictor(network)
    lines = line_model or os.environ.get(LINE_MODEL_ENV_VAR) or best_shipped_dataset()
    if mode == "line":
        return LinePredictor(lines)
    if mode == "paragraph":
        return ParagraphTextRecognizer(lines)
    if mode == "page":
        return PageTextRecognizer(lines)
    raise ValueError(f"Unknown mode {mode!r}; choose one of {', '.join(MODES)}")
