"""CTC in numpy: the greedy best path, and the probability of a label sequence summed over all its alignments.

The blank is a class (the `_` padding token of the line data sets).

    >>> probabilities = np.eye(3)[[[0, 0, 2, 0, 1, 1, 2]]] * 0.98 + 0.01   # 7 steps over classes a, b and the blank
    >>> greedy_paths(probabilities, blank=2)
    [[0, 0, 1]]
    >>> path_labels(probabilities[0].argmax(axis=-1), blank=2)   # and the first and last step each label fires at
    ([0, 0, 1], array([[0, 1],
           [3, 3],
           [4, 5]]))
    >>> sequence_probabilities(probabilities, [[0, 0, 1]], blank=2).round(3)
    array([0.99])
"""

from collections.abc import Sequence

import numpy as np

# Probabilities are floored here before any product: a softmax can round to 0, and a sum of logs must stay finite.
_TINY = float(np.finfo(np.float32).tiny)
# The forward pass rescales every this many steps: a step keeps at least _TINY (1e-38) of the total, so four steps
# stay well inside float64 (1e-308).
_RESCALE_EVERY = 4


def greedy_paths(probabilities: np.ndarray, blank: int) -> list[list[int]]:
    """The labels of each line's best path (batch, steps, classes): its repeats merged, then its blanks dropped."""
    best = np.asarray(probabilities).argmax(axis=-1)
    new = np.ones(best.shape, dtype=bool)
    new[:, 1:] = best[:, 1:] != best[:, :-1]
    keep = new & (best != blank)
    return [row[mask].tolist() for row, mask in zip(best, keep, strict=True)]


def path_labels(path: np.ndarray, blank: int, start: int | None = None) -> tuple[list[int], np.ndarray]:
    """The labels a path (a class per step) reads, and the first and last step of each (labels, 2): where it fires.

    The path's runs of one class are merged, the blank's dropped; a run of `start` (the class the path is taken to
    start after: flashlight's start token) at its beginning reads nothing either.
    """
    path = np.asarray(path)
    if not len(path):
        return [], np.zeros((0, 2), dtype=np.int64)
    firsts = np.flatnonzero(np.concatenate([[True], path[1:] != path[:-1]]))
    lasts = np.append(firsts[1:], len(path)) - 1
    classes = path[firsts]
    read = classes != blank
    if start is not None:
        read[0] &= classes[0] != start
    return classes[read].tolist(), np.stack([firsts[read], lasts[read]], axis=1)


def sequence_probabilities(probabilities: np.ndarray, sequences: Sequence[Sequence[int]], blank: int) -> np.ndarray:
    """P(sequence | outputs) of each line (batch, steps, classes): the CTC forward pass over all its alignments."""
    return np.array(
        [
            _sequence_probability(line, list(sequence), blank)
            for line, sequence in zip(probabilities, sequences, strict=True)
        ]
    )


def _sequence_probability(probabilities: np.ndarray, sequence: list[int], blank: int) -> float:
    # The states an alignment moves through: the sequence with a blank before, between and after its labels.
    states = np.full(2 * len(sequence) + 1, blank)
    states[1::2] = sequence
    size = len(states)
    emissions = np.maximum(np.asarray(probabilities, dtype=np.float64)[:, states], _TINY)
    if not len(emissions):
        return 0.0 if sequence else 1.0
    # From one step to the next an alignment stays, moves on one state, or skips a blank between two different labels:
    # a band matrix, so that a step is one product (a line's 300 steps in numpy cost their calls, not their sums).
    moves = np.eye(size) + np.eye(size, k=1)
    skips = np.flatnonzero((states[2:] != blank) & (states[2:] != states[:-2]))
    moves[skips, skips + 2] = 1.0
    alpha = np.zeros(size)
    alpha[:2] = emissions[0, :2]
    log_scale = 0.0
    for step in range(1, len(emissions)):
        alpha = (alpha @ moves) * emissions[step]
        if step % _RESCALE_EVERY == 0:
            total = alpha.sum()
            alpha /= total
            log_scale += np.log(total)
    # An alignment ends in the last label or in the blank after it.
    end = alpha[-1] + (alpha[-2] if sequence else 0.0)
    if end <= 0:  # more labels than the steps can hold
        return 0.0
    return float(min(np.exp(np.log(end) + log_scale), 1.0))
