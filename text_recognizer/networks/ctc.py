"""CTC loss and decoding for networks that emit a softmax over the classes at every time step.

The blank is a class of the mapping (the `_` padding token), which also pads the label sequences.

    >>> probabilities = np.eye(3)[[[0, 0, 2, 0, 1, 1, 2]]]   # one line, 7 steps, classes a, b and the blank
    >>> ctc_decode(probabilities, blank_label=2)
    ([[0, 0, 1]], array([0.999...]))
"""

from typing import Any

import keras
import numpy as np
from keras import ops

_EPSILON = 1e-7


class CtcLoss(keras.losses.Loss):
    """Per-line CTC loss of softmax outputs (batch, steps, classes) against label sequences (batch, max_length).

    A label sequence ends at its first `blank_label`; every output step is valid (lines are padded with blank ink).
    """

    def __init__(self, blank_label: int, name: str = "ctc", **kwargs: Any):
        super().__init__(name=name, **kwargs)
        self.blank_label = blank_label

    def call(self, y_true: Any, y_pred: Any) -> Any:
        labels = ops.cast(y_true, "int32")
        label_length = ops.sum(ops.cast(ops.not_equal(labels, self.blank_label), "int32"), axis=-1)
        shape = ops.shape(y_pred)
        output_length = ops.full((shape[0],), shape[1], dtype="int32")
        # The backend's CTC applies a log-softmax; on log-probabilities that is the identity.
        log_probabilities = ops.log(ops.clip(y_pred, _EPSILON, 1.0))
        return ops.ctc_loss(labels, log_probabilities, label_length, output_length, mask_index=self.blank_label)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "blank_label": self.blank_label}


def ctc_decode(probabilities: np.ndarray, blank_label: int, beam_width: int = 1) -> tuple[list[list[int]], np.ndarray]:
    """Label sequences of a batch of softmax outputs (batch, steps, classes), and the probability of each.

    With `beam_width` 1 the labels are the greedy best path's (repeats merged, then blanks dropped), else those beam
    search finds. A sequence's probability sums over all its alignments, so a clear reading scores near 1 however long.
    """
    if beam_width <= 1:
        best = probabilities.argmax(axis=-1)
        new = np.ones_like(best, dtype=bool)
        new[:, 1:] = best[:, 1:] != best[:, :-1]
        keep = new & (best != blank_label)
        sequences = [row[mask].tolist() for row, mask in zip(best, keep, strict=True)]
        return sequences, sequence_probabilities(probabilities, sequences, blank_label)
    batch, steps = probabilities.shape[:2]
    decoded, log_scores = ops.ctc_decode(
        np.log(np.clip(probabilities, _EPSILON, 1.0)),
        np.full((batch,), steps, dtype=np.int32),
        strategy="beam_search",
        beam_width=beam_width,
        top_paths=1,
        mask_index=blank_label,
    )
    sequences = [[int(label) for label in row if label >= 0] for row in np.asarray(decoded[0])]
    return sequences, np.exp(np.asarray(log_scores)[:, 0])


def sequence_probabilities(probabilities: np.ndarray, sequences: list[list[int]], blank_label: int) -> np.ndarray:
    """P(sequence | outputs) of each line by the CTC forward algorithm, i.e. exp(-CTC loss)."""
    labels = np.full((len(sequences), max(1, *map(len, sequences))), blank_label, dtype=np.int32)
    for row, sequence in zip(labels, sequences, strict=True):
        row[: len(sequence)] = sequence
    losses = CtcLoss(blank_label, reduction=None)(labels, probabilities)
    return np.exp(-np.maximum(np.asarray(losses, dtype=np.float64), 0.0))  # float error can make a loss just below 0
