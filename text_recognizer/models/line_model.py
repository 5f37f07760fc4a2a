"""Reads a line of handwriting as one character per fixed-width cell (the all-convolutional baseline).

>>> from text_recognizer.models.base import load_shipped_model
>>> model = load_shipped_model("LineModel_EmnistLinesDataset_line_cnn_all_conv")
>>> model.evaluate(x_test, y_test)   # {"cer": ..., "wer": ..., "line_accuracy": ...} on lines in its format
"""

from typing import Any

import numpy as np

from text_recognizer.metrics import character_error_rate, line_accuracy, word_error_rate
from text_recognizer.models.base import Model

# How many times the training width a variable-width network may be given.
MAX_WIDTH_FACTOR = 8


class LineModel(Model):
    """A network over line images `data.input_shape` high and wide, giving a softmax per output position.

    The data set provides `mapping`, `padding_label` and `input_shape`; its targets are label sequences padded with
    `padding_label`. Subclasses change how outputs become labels (`decode`) and which widths the network takes.
    """

    #: The network reads any width: lines are padded up to the training width, cut only far beyond it.
    variable_width = False

    def contract(self) -> dict[str, Any]:
        """The data set's contract; a variable-width network takes lines up to `MAX_WIDTH_FACTOR` times as wide."""
        contract = super().contract()
        if self.variable_width and contract["preprocessing"]["method"] == "fixed_height_line":
            contract["preprocessing"]["max_width"] *= MAX_WIDTH_FACTOR
        return contract

    def read_outputs(self, probabilities: np.ndarray) -> list[tuple[str, float]]:
        """(text, confidence) for each line's network outputs, decoded as the model is set to decode."""
        sequences, confidences = self.decode(probabilities)
        return [(self.labels_to_text(labels), float(c)) for labels, c in zip(sequences, confidences, strict=True)]

    def decode(self, probabilities: np.ndarray) -> tuple[list[list[int]], np.ndarray]:
        """Most likely label per position, and the product of those probabilities per line."""
        return probabilities.argmax(axis=-1).tolist(), probabilities.max(axis=-1).prod(axis=-1)

    def labels_to_text(self, labels: list[int] | np.ndarray) -> str:
        """Text of a label sequence: up to the first padding, without surrounding spaces."""
        chars = [self.data.mapping[label] for label in labels]
        padding = self.data.mapping[self.data.padding_label]
        return "".join(chars).split(padding, 1)[0].strip()

    def evaluate(self, x: np.ndarray, y: np.ndarray, batch_size: int = 64) -> dict[str, float]:
        """Character and word error rates over the split, and the mean per-line accuracy (1 - that line's CER)."""
        return self.evaluate_outputs(self.network.predict(x, batch_size=batch_size, verbose=0), y, batch_size)

    def evaluate_outputs(self, probabilities: np.ndarray, y: np.ndarray, batch_size: int = 64) -> dict[str, float]:
        """`evaluate` of network outputs already computed: a decoder can be tried on them without running the network.

        They are decoded `batch_size` lines at a time, which bounds the memory the CTC confidences take.
        """
        predictions = [
            text
            for i in range(0, len(probabilities), batch_size)
            for text, _ in self.read_outputs(probabilities[i : i + batch_size])
        ]
        targets = [self.labels_to_text(labels) for labels in y]
        return {
            "cer": character_error_rate(predictions, targets),
            "wer": word_error_rate(predictions, targets),
            "line_accuracy": line_accuracy(predictions, targets),
        }
