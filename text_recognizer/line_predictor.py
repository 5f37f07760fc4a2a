"""Recognizes one line of handwritten text.

    >>> from text_recognizer.line_predictor import LinePredictor
    >>> LinePredictor().predict("text_recognizer/tests/support/emnist_lines/2.png")
    ('fathers in the forest', 0.9...)
    >>> LinePredictor("iam").predict("text_recognizer/tests/support/iam_lines/f02-020-07.png")   # real handwriting
    ('taken part.', 0.9...)
"""

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
        beam_width: above 1, CTC models decode with beam search of this width instead of the greedy best path.
    """

    def __init__(self, dataset: str = "emnist_lines", beam_width: int = 1):
        dataset = DATASET_ALIASES.get(dataset, dataset)
        if dataset not in SHIPPED_MODELS:
            raise ValueError(f"No line model for data set {dataset!r}; choose one of {sorted(SHIPPED_MODELS)}")
        self.model = load_shipped_model(SHIPPED_MODELS[dataset])
        if isinstance(self.model, LineModelCtc):
            self.model.beam_width = beam_width
