"""Recognizes one line of handwriting, of any width and height.

>>> from text_recognizer.predictors import LinePredictor
>>> LinePredictor("iam").predict("text_recognizer/tests/support/iam_lines/f02-020-07.png").text   # real handwriting
'taken part.'
>>> LinePredictor("emnist_lines").predict("text_recognizer/tests/support/emnist_lines/2.png").text
'fathers in the forest'
>>> LinePredictor("iam", decoder={}).predict(...)   # greedy, without the language model

Each line's words come from where the network fires their characters (see `word_boxes`), boxed in the line's pixels:

>>> LinePredictor("iam").predict("text_recognizer/tests/support/iam_lines/f02-020-07.png").lines[0].words[0]
Word(box=(3, 2, 75, 32), text='taken', confidence=0.97...)
"""

import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import cv2
import numpy as np

from text_recognizer.artifacts import ARTIFACTS_DIRNAME, load_artifact
from text_recognizer.decoding import CtcDecoder, WordSteps, split_words
from text_recognizer.predictors.base import Box, Line, Prediction, Predictor, Word
from text_recognizer.preprocessing import own_ink, prepare_line_input

#: The shipped artifact each data set's predictor loads.
SHIPPED_MODELS = {
    "emnist_lines": "LineModelCtc_EmnistLinesDataset_line_lstm_ctc",
    "iam_lines": "LineModelCtc_IamLinesDataset_line_lstm_ctc",
}
# Short names users reach for first.
DATASET_ALIASES = {"iam": "iam_lines", "emnist": "emnist_lines"}
# Lines per network call.
BATCH_SIZE = 32
# A line is read as wide as its ink plus this much background, in multiples of this: the network reads only what it
# needs to (short lines cost less), and the few distinct widths keep ONNX Runtime's buffers reused. The IAM network
# trained on lines padded with background to 1280 px: 128 px of it read the test split at 9.83% greedy CER (as at
# full width), 32 px at 9.89%.
TRAILING_BACKGROUND = 128
WIDTH_STEP = 64
DECODER_KEYS = ("beam_width", "language_model", "lm_weight", "length_bonus")
# A word's box: the columns from the step where its first character fires to the step where its last one does
# (a CTC network fires a character at a step or two of it, often its left part), widened by this many of the line's
# character widths on each side (but not past halfway to the next word's steps), then cut to the line's ink there
# and to the rows of that ink: the line's own (`preprocessing.own_ink`), as a crop from a page also holds strokes of
# the lines above and below, whose descenders and ascenders would stretch a word's box.
WORD_PADDING = 1.0


class _Reading(NamedTuple):
    """One line's reading: its text, confidence and words (in steps of the network's outputs), the number of steps
    and the input width the line ran at."""

    text: str
    confidence: float
    words: list[WordSteps]
    steps: int
    width: int


def best_shipped_dataset() -> str:
    """The data set whose line model serves by default: IAM's (real handwriting) once shipped, else EMNIST Lines'."""
    return "iam_lines" if (ARTIFACTS_DIRNAME / SHIPPED_MODELS["iam_lines"]).is_dir() else "emnist_lines"


class LinePredictor(Predictor):
    """Reads lines with a shipped line artifact.

    Args:
        model: a data set key of `SHIPPED_MODELS` (or of `DATASET_ALIASES`), or an artifact's name.
        decoder: decode otherwise than the artifact says: `CtcDecoder`'s arguments, e.g. `{}` for the greedy best
            path or `{"beam_width": 10}` for beam search without the language model; a `language_model` names a file
            the artifact carries.
    """

    def __init__(self, model: str = "iam_lines", decoder: dict[str, Any] | None = None):
        model = DATASET_ALIASES.get(model, model)
        self.artifact = load_artifact(SHIPPED_MODELS.get(model, model))
        spec = self.artifact.spec
        if spec["kind"] != "line":
            raise ValueError(f"{self.artifact.name} is a {spec['kind']} model, not a line model")
        self.classes: list[str] = spec["classes"]
        self.blank: int = spec["blank"]
        settings = spec["decoder"] if decoder is None else {"type": spec["decoder"]["type"], **decoder}
        self.decoder = self._decoder(settings)

    def _decoder(self, settings: dict[str, Any]) -> CtcDecoder | None:
        """The CTC decoder `settings` describe; None for a network that reads one character per position."""
        if settings["type"] == "positions":
            if len(settings) > 1:
                raise ValueError(f"{self.artifact.name} reads a character per position: it has no decoder to set")
            return None
        unknown = set(settings) - {"type", *DECODER_KEYS}
        if unknown:
            raise ValueError(f"Unknown decoder settings {sorted(unknown)}; choose from {list(DECODER_KEYS)}")
        arguments = {key: settings[key] for key in DECODER_KEYS if key in settings}
        if arguments.get("language_model") is not None:
            arguments["language_model"] = self.artifact.file(arguments["language_model"])
        return CtcDecoder(self.classes, self.blank, **arguments)

    def predict_pages(self, pages: Sequence[np.ndarray]) -> list[Prediction]:
        """Each page is one line; its words' boxes in its pixels."""
        spec = self.artifact.spec["preprocessing"]
        images, matrices = zip(*(prepare_line_input(page, spec) for page in pages), strict=True) if pages else ((), ())
        predictions = []
        for page, image, matrix, reading in zip(pages, images, matrices, self._read(images), strict=True):
            boxes = word_boxes(image, reading.words, reading.steps, reading.width, matrix, page.shape)
            words = tuple(Word(box, word.text, word.confidence) for box, word in zip(boxes, reading.words, strict=True))
            line = Line((0, 0, page.shape[1], page.shape[0]), reading.text, reading.confidence, words=words)
            predictions.append(Prediction(reading.text, reading.confidence, (line,)))
        return predictions

    def read_prepared(self, images: Sequence[np.ndarray]) -> list[tuple[str, float]]:
        """(text, confidence) of lines already in the network's format (as the training data sets store them).

        Each line runs at a width of its own (see `_input_width`), with lines of that width: so a line reads the
        same alone or among others.
        """
        return [(reading.text, reading.confidence) for reading in self._read(images)]

    def _read(self, images: Sequence[np.ndarray]) -> list[_Reading]:
        widths = [self._input_width(image) for image in images]
        results: dict[int, _Reading] = {}
        for width in sorted(set(widths)):
            indices = [i for i, w in enumerate(widths) if w == width]
            for start in range(0, len(indices), BATCH_SIZE):
                chunk = indices[start : start + BATCH_SIZE]
                batch = np.stack([_to_width(images[i], width) for i in chunk])
                results.update(zip(chunk, self._readings(self.artifact.run(batch), width), strict=True))
        return [results[i] for i in range(len(images))]

    def _input_width(self, image: np.ndarray) -> int:
        """The artifact's fixed width, or (any width) the line's ink and a little background, rounded up."""
        fixed = self.artifact.spec["input"]["width"]
        return fixed or -(-(_ink_width(image) + TRAILING_BACKGROUND) // WIDTH_STEP) * WIDTH_STEP

    def read_outputs(self, probabilities: np.ndarray) -> list[tuple[str, float]]:
        """(text, confidence) of each line's network outputs (batch, positions, classes)."""
        return [(reading.text, reading.confidence) for reading in self._readings(probabilities, 0)]

    def _readings(self, probabilities: np.ndarray, width: int) -> list[_Reading]:
        """What each line's network outputs (batch, steps, classes) read, run `width` wide. A line's text is its
        words' joined with single spaces (so its white space stripped and collapsed)."""
        steps = probabilities.shape[1]
        if self.decoder is None:  # a character per position, up to the first padding; each fires at its position
            confidences = probabilities.max(axis=-1).prod(axis=-1)
            labels = []
            for row in probabilities.argmax(axis=-1).tolist():
                labels.append(row[: row.index(self.blank)] if self.blank in row else row)
            positions = np.repeat(np.arange(steps), 2).reshape(-1, 2)
            read = [(row, positions[: len(row)]) for row in labels]
        else:
            readings = self.decoder.read(probabilities)
            confidences = np.array([reading.confidence for reading in readings])
            read = [(reading.labels, reading.steps) for reading in readings]
        results = []
        for (row, fired), line, confidence in zip(read, probabilities, confidences, strict=True):
            words = split_words(self.classes, row, fired, line)
            results.append(_Reading(" ".join(word.text for word in words), float(confidence), words, steps, width))
        return results


def word_boxes(
    image: np.ndarray,
    words: Sequence[WordSteps],
    steps: int,
    width: int,
    matrix: np.ndarray,
    shape: tuple[int, int],
) -> list[Box]:
    """The box of each word of a line `shape` high and wide, in its pixels, from `image` (the line prepared, `matrix`
    taking the line's pixels to its: `prepare_line_input`) and the steps each word spans of the network's `steps`
    outputs for it run `width` wide (step t covers the prepared columns from t * width / steps to (t + 1) * width /
    steps). See `WORD_PADDING`."""
    if not words:
        return []
    columns_per_step = width / steps
    image = image[:, :width]  # the columns read
    ink = own_ink(image)
    inked_columns = np.asarray(ink.any(axis=0))
    spans = [(word.first * columns_per_step, (word.last + 1) * columns_per_step) for word in words]
    characters = sum(len(word.text) for word in words) + len(words) - 1
    padding = WORD_PADDING * (spans[-1][1] - spans[0][0]) / characters
    boxes = []
    for i, (left, right) in enumerate(spans):
        low = max(left - padding, (spans[i - 1][1] + left) / 2 if i else 0.0)
        high = min(right + padding, (right + spans[i + 1][0]) / 2 if i + 1 < len(spans) else float(image.shape[1]))
        x0, x1 = max(0, math.floor(low)), min(image.shape[1], math.ceil(high))
        inked = np.flatnonzero(inked_columns[x0:x1])
        if len(inked):
            x0, x1 = x0 + int(inked[0]), x0 + int(inked[-1]) + 1
        rows = np.flatnonzero(ink[:, x0:x1].any(axis=1))
        y0, y1 = (int(rows[0]), int(rows[-1]) + 1) if len(rows) else (0, image.shape[0])
        boxes.append(_to_line(x0, y0, x1, y1, matrix, shape))
    return boxes


def _to_line(x0: float, y0: float, x1: float, y1: float, matrix: np.ndarray, shape: tuple[int, int]) -> Box:
    """The box bounding the box from (x0, y0) to (x1, y1) in the prepared line's pixels taken back to the line's
    (`shape` high and wide) by the inverse of `matrix`, within the line."""
    corners = np.array([[[x0, y0], [x1, y0], [x0, y1], [x1, y1]]], np.float64)
    (left, top), (right, bottom) = _bounds(cv2.transform(corners, cv2.invertAffineTransform(matrix))[0], shape)
    return left, top, right - left, bottom - top


def _bounds(points: np.ndarray, shape: tuple[int, int]) -> tuple[tuple[int, int], tuple[int, int]]:
    """The top-left and bottom-right pixel corners bounding `points`, within an image `shape` high and wide, at least
    one pixel apart."""
    left = min(max(0, math.floor(points[:, 0].min())), shape[1] - 1)
    top = min(max(0, math.floor(points[:, 1].min())), shape[0] - 1)
    right = max(left + 1, min(shape[1], math.ceil(points[:, 0].max())))
    bottom = max(top + 1, min(shape[0], math.ceil(points[:, 1].max())))
    return (left, top), (right, bottom)


def _ink_width(image: np.ndarray) -> int:
    """Columns up to the last one with ink."""
    columns = np.flatnonzero(image.max(axis=0))
    return int(columns[-1]) + 1 if len(columns) else 1


def _to_width(image: np.ndarray, width: int) -> np.ndarray:
    """Cut or padded with background on the right to `width` columns."""
    return np.pad(image[:, :width], ((0, 0), (0, max(0, width - image.shape[1]))))
