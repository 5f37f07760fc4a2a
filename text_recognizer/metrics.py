"""Text recognition metrics over whole splits.

    >>> character_error_rate(["hello wrld"], ["hello world"])   # one deletion in 11 characters
    0.09090909090909091
    >>> line_accuracy(["hello wrld", "ok"], ["hello world", "ok"])
    0.9545454545454546
    >>> word_error_rate(["hello wrld ok"], ["hello world ok"])   # one substituted word in 3
    0.3333333333333333
"""

from collections.abc import Sequence

import editdistance


def character_error_rate(predictions: Sequence[str], targets: Sequence[str]) -> float:
    """Total edit distance over total target length: long lines weigh more, as they hold more characters."""
    distance = sum(editdistance.eval(p, t) for p, t in zip(predictions, targets, strict=True))
    return distance / max(sum(len(t) for t in targets), 1)


def line_accuracy(predictions: Sequence[str], targets: Sequence[str]) -> float:
    """Mean over lines of 1 - (edit distance / target length), the FSDL lab's line metric."""
    scores = [1 - editdistance.eval(p, t) / max(len(t), 1) for p, t in zip(predictions, targets, strict=True)]
    return sum(scores) / max(len(scores), 1)


def word_error_rate(predictions: Sequence[str], targets: Sequence[str]) -> float:
    """Total word-level edit distance (words split on whitespace) over total target words."""
    distance = sum(editdistance.eval(p.split(), t.split()) for p, t in zip(predictions, targets, strict=True))
    return distance / max(sum(len(t.split()) for t in targets), 1)
