"""Recognizes one line of handwritten text.

    >>> from text_recognizer.line_predictor import LinePredictor
    >>> LinePredictor().predict("text_recognizer/tests/support/emnist_lines/2.png")
    ('fathers in the forest', 0.9...)
    >>> LinePredictor("iam").predict("text_recognizer/tests/support/iam_lines/f02-020-07.png")   # real handwriting
    ('taken part.', 0.9...)
"""

from typing import Any

from text_recognizer.models.base import WEIGHTS_DIRNAME, load_shipped_model
from text_recognizer.models.line_model_ctc import LineModelCtc
from text_recognizer.predictor import Predictor

#: The shipped model each data set's predictor loads.
SHIPPED_MODELS = {
    "emnist_lines": "LineModelCtc_EmnistLinesDataset_line_lstm_ctc",
    "iam_lines": "LineModelCtc_IamLinesDataset_line_lstm_ctc",
}
# Short names users reach for first.
DATASET_ALIASES = {"iam": "iam_lines", "emnist": "emnist_lines"}


def best_shipped_dataset() -> str:
    """The data set whose line model serves by default: IAM's (real handwriting) once shipped, else EMNIST Lines'."""
    return "iam_lines" if (WEIGHTS_DIRNAME / f"{SHIPPED_MODELS['iam_lines']}.json").exists() else "emnist_lines"


class LinePredictor(Predictor):
    """Loads the shipped line model for `dataset` and reads images of any width and height.

    Args:
        dataset: which shipped model to load, a key of `SHIPPED_MODELS` (or of `DATASET_ALIASES`).
        decoder: how a CTC model decodes instead of as its shipped config says: the arguments of
            `LineModelCtc.set_decoder`, e.g. `{}` for the greedy best path or `{"beam_width": 10}` for beam search
            without the language model.
    """

    def __init__(self, dataset: str = "emnist_lines", decoder: dict[str, Any] | None = None):
        dataset = DATASET_ALIASES.get(dataset, dataset)
        if dataset not in SHIPPED_MODELS:
            raise ValueError(f"No line model for data set {dataset!r}; choose one of {sorted(SHIPPED_MODELS)}")
        self.model = load_shipped_model(SHIPPED_MODELS[dataset])
        if decoder is not None:
            if not isinstance(self.model, LineModelCtc):
                raise ValueError(f"{self.model.name} is not a CTC model: it has no decoder to set")
            try:
                self.model.set_decoder(**decoder)
            except TypeError as e:  # an argument set_decoder does not take
                raise ValueError(f"Bad decoder {decoder}: {e}") from e
