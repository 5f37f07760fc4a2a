"""CTC loss and decoding for networks that emit a softmax over the classes at every time step.

The blank is a class of the mapping (the `_` padding token), which also pads the label sequences.

    >>> probabilities = np.eye(3)[[[0, 0, 2, 0, 1, 1, 2]]]   # one line, 7 steps, classes a, b and the blank
    >>> ctc_decode(probabilities, blank_label=2)
    ([[0, 0, 1]], array([1.]))
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
    """Label sequences of a batch of softmax outputs (batch, steps, classes), and a confidence in each.

    With `beam_width` 1 the labels are the greedy best path's (repeats merged, then blanks dropped), else those beam
    search finds. The confidence is the sequence's probability (summed over all its alignments) per label, i.e. its
    geometric mean over the labels: a whole line of 40 characters each read at 0.95 has probability 0.13, but reads as
    sure as each of its characters, so lines of any length compare.
    """
    if beam_width <= 1:
        best = probabilities.argmax(axis=-1)
        new = np.ones_like(best, dtype=bool)
        new[:, 1:] = best[:, 1:] != best[:, :-1]
        keep = new & (best != blank_label)
        sequences = [row[mask].tolist() for row, mask in zip(best, keep, strict=True)]
    else:
        batch, steps = probabilities.shape[:2]
        decoded, _ = ops.ctc_decode(
            np.log(np.clip(probabilities, _EPSILON, 1.0)),
            np.full((batch,), steps, dtype=np.int32),
            strategy="beam_search",
            beam_width=beam_width,
            top_paths=1,
            mask_index=blank_label,
        )
        sequences = [[int(label) for label in row if label >= 0] for row in np.asarray(decoded[0])]
    lengths = np.array([max(len(sequence), 1) for sequence in sequences])
    return sequences, sequence_probabilities(probabilities, sequences, blank_label) ** (1 / lengths)


def sequence_probabilities(probabilities: np.ndarray, sequences: list[list[int]], blank_label: int) -> np.ndarray:
    """P(sequence | outputs) of each line: the CTC forward algorithm, summing over every alignment of the sequence."""
    batch, steps = probabilities.shape[:2]
    lengths = np.array([len(sequence) for sequence in sequences])
    # The sequence with a blank before, between and after its labels: the states an alignment moves through.
    states = np.full((batch, 2 * max(1, lengths.max(initial=0)) + 1), blank_label)
    for row, sequence in zip(states, sequences, strict=True):
        row[1 : 2 * len(sequence) : 2] = sequence
    emissions = probabilities[np.arange(batch)[:, None, None], np.arange(steps)[None, :, None], states[:, None, :]]
    # A step may skip a blank, unless that would merge two equal labels into one.
    skip = np.zeros(states.shape, dtype=bool)
    skip[:, 2:] = (states[:, 2:] != blank_label) & (states[:, 2:] != states[:, :-2])
    alpha = np.zeros(states.shape)
    alpha[:, :2] = emissions[:, 0, :2]
    log_scale = np.zeros(batch)
    with np.errstate(divide="ignore"):
        for step in range(steps):
            if step:
                previous = alpha
                alpha = previous.copy()
                alpha[:, 1:] += previous[:, :-1]
                alpha[:, 2:] += np.where(skip[:, 2:], previous[:, :-2], 0.0)
                alpha *= emissions[:, step]
            # Rescaled every step, as the raw probabilities underflow on long lines; states beyond a line's own
            # sequence collect mass too but never pass it back.
            total = np.maximum(alpha.sum(axis=1, keepdims=True), np.finfo(float).tiny)
            alpha /= total
            log_scale += np.log(total[:, 0])
        rows = np.arange(batch)
        end = alpha[rows, 2 * lengths] + np.where(lengths > 0, alpha[rows, np.maximum(2 * lengths - 1, 0)], 0.0)
        return np.minimum(np.exp(np.log(end) + log_scale), 1.0)
