"""Recognizes one line of handwriting, of any width and height.

>>> from text_recognizer.predictors import LinePredictor
>>> LinePredictor("iam").predict("text_recognizer/tests/support/iam_lines/f02-020-07.png").text   # real handwriting
'taken part.'
>>> LinePredictor("emnist_lines").predict("text_recognizer/tests/support/emnist_lines/2.png").text
'fathers in the forest'
>>> LinePredictor("iam", decoder={}).predict(...)   # greedy, without the language model
"""

from collections.abc import Sequence
from typing import Any

import numpy as np

from text_recognizer.artifacts import ARTIFACTS_DIRNAME, load_artifact
from text_recognizer.decoding import CtcDecoder
from text_recognizer.predictors.base import Line, Prediction, Predictor
from text_recognizer.preprocessing import prepare

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
        """Each page is one line."""
        read = self.read_prepared([prepare(page, self.artifact.spec["preprocessing"]) for page in pages])
        return [
            Prediction(text, confidence, (Line((0, 0, page.shape[1], page.shape[0]), text, confidence),))
            for page, (text, confidence) in zip(pages, read, strict=True)
        ]

    def read_prepared(self, images: Sequence[np.ndarray]) -> list[tuple[str, float]]:
        """(text, confidence) of lines already in the network's format (as the training data sets store them).

        Each line runs at a width of its own (see `_input_width`), with lines of that width: so a line reads the
        same alone or among others.
        """
        widths = [self._input_width(image) for image in images]
        results: dict[int, tuple[str, float]] = {}
        for width in sorted(set(widths)):
            indices = [i for i, w in enumerate(widths) if w == width]
            for start in range(0, len(indices), BATCH_SIZE):
                chunk = indices[start : start + BATCH_SIZE]
                batch = np.stack([_to_width(images[i], width) for i in chunk])
                results.update(zip(chunk, self.read_outputs(self.artifact.run(batch)), strict=True))
        return [results[i] for i in range(len(images))]

    def _input_width(self, image: np.ndarray) -> int:
        """The artifact's fixed width, or (any width) the line's ink and a little background, rounded up."""
        fixed = self.artifact.spec["input"]["width"]
        return fixed or -(-(_ink_width(image) + TRAILING_BACKGROUND) // WIDTH_STEP) * WIDTH_STEP

    def read_outputs(self, probabilities: np.ndarray) -> list[tuple[str, float]]:
        """(text, confidence) of each line's network outputs (batch, positions, classes)."""
        if self.decoder is None:  # a character per position, up to the first padding
            labels, confidences = probabilities.argmax(axis=-1).tolist(), probabilities.max(axis=-1).prod(axis=-1)
            texts = [
                "".join(self.classes[label] for label in row).split(self.classes[self.blank], 1)[0] for row in labels
            ]
        else:
            sequences, confidences = self.decoder.decode(probabilities)
            texts = ["".join(self.classes[label] for label in sequence) for sequence in sequences]
        return [(text.strip(), float(confidence)) for text, confidence in zip(texts, confidences, strict=True)]


def _ink_width(image: np.ndarray) -> int:
    """Columns up to the last one with ink."""
    columns = np.flatnonzero(image.max(axis=0))
    return int(columns[-1]) + 1 if len(columns) else 1


def _to_width(image: np.ndarray, width: int) -> np.ndarray:
    """Cut or padded with background on the right to `width` columns."""
    return np.pad(image[:, :width], ((0, 0), (0, max(0, width - image.shape[1]))))
