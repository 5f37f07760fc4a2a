"""CTC loss and decoding for networks that emit a softmax over the classes at every time step.

The blank is a class of the mapping (the `_` padding token), which also pads the label sequences.

    >>> probabilities = np.eye(3)[[[0, 0, 2, 0, 1, 1, 2]]]   # one line, 7 steps, classes a, b and the blank
    >>> ctc_decode(probabilities, blank_label=2)
    ([[0, 0, 1]], array([1.]))
"""

import heapq
import math
from collections.abc import Callable
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


#: Log-probabilities over the classes of the label that follows a label sequence, weighted: a language model.
LabelScorer = Callable[[tuple[int, ...]], np.ndarray]


def ctc_decode(
    probabilities: np.ndarray,
    blank_label: int,
    beam_width: int = 1,
    scorer: LabelScorer | None = None,
    length_bonus: float = 0.0,
) -> tuple[list[list[int]], np.ndarray]:
    """Label sequences of a batch of softmax outputs (batch, steps, classes), and a confidence in each.

    With `beam_width` 1 and no `scorer` the labels are the greedy best path's (repeats merged, then blanks dropped),
    else those beam search finds; with a `scorer` (a language model) the search adds its score for each label, and
    `length_bonus`, to the network's log-probability (see `beam_search`).

    The confidence is the network's probability of the sequence (summed over all its alignments; the language model
    plays no part) per label, i.e. its geometric mean over the labels: a whole line of 40 characters each read at 0.95
    has probability 0.13, but reads as sure as each of its characters, so lines of any length compare.
    """
    if scorer is not None:
        sequences = [beam_search(line, blank_label, beam_width, scorer, length_bonus) for line in probabilities]
    elif beam_width <= 1:
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


def beam_search(
    probabilities: np.ndarray,
    blank_label: int,
    beam_width: int,
    scorer: LabelScorer,
    length_bonus: float = 0.0,
    min_probability: float = 1e-3,
) -> list[int]:
    """The best label sequence of one line's outputs (steps, classes) by CTC prefix beam search with a language model.

    A prefix's score is log P(prefix | outputs), summed over its alignments as CTC does, plus for each of its labels
    `scorer(labels before it)[label] + length_bonus` (shallow fusion: Hannun et al. 2014, arXiv:1408.2873). Labels
    the network gives less than `min_probability` at a step are not tried there, which keeps the search fast.
    """
    log_probabilities = np.log(np.maximum(probabilities, np.finfo(np.float32).tiny)).tolist()
    candidates = [np.flatnonzero(row > min_probability).tolist() for row in probabilities]
    # Per prefix: log-probability of its alignments so far that end in a blank, and of those that end in its last label.
    beams: dict[tuple[int, ...], tuple[float, float]] = {(): (0.0, -math.inf)}
    scores: dict[tuple[int, ...], np.ndarray] = {}
    for row, labels in zip(log_probabilities, candidates, strict=True):
        extended: dict[tuple[int, ...], list[float]] = {}
        for prefix, (ends_blank, ends_label) in beams.items():
            total = _log_add(ends_blank, ends_label)
            entry = extended.setdefault(prefix, [-math.inf, -math.inf])
            entry[0] = _log_add(entry[0], total + row[blank_label])
            last = prefix[-1] if prefix else None
            if last is not None:  # the last label again, without a blank between, merges into it
                entry[1] = _log_add(entry[1], ends_label + row[last])
            for label in labels:
                if label == blank_label:
                    continue
                if prefix not in scores:
                    scores[prefix] = scorer(prefix)
                longer = prefix + (label,)
                source = ends_blank if label == last else total
                entry = extended.setdefault(longer, [-math.inf, -math.inf])
                entry[1] = _log_add(entry[1], source + row[label] + float(scores[prefix][label]) + length_bonus)
        beams = {
            prefix: (entry[0], entry[1])
            for prefix, entry in heapq.nlargest(beam_width, extended.items(), key=lambda item: _log_add(*item[1]))
        }
    best: tuple[int, ...] = max(beams, key=lambda prefix: _log_add(*beams[prefix]))
    return list(best)


def _log_add(a: float, b: float) -> float:
    """log(exp(a) + exp(b)), without overflow."""
    if a < b:
        a, b = b, a
    return a if b == -math.inf else a + math.log1p(math.exp(b - a))


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
