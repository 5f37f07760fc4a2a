"""A line's reading split into words, each with the steps of the network's outputs it spans and a confidence.

>>> tokens = list("ab _")   # the character of each class; "_" is the blank, " " separates words
>>> probabilities = np.full((7, 4), 0.02)
>>> probabilities[np.arange(7), [0, 3, 1, 2, 2, 1, 3]] = 0.94
>>> split_words(tokens, [0, 1, 2, 1], np.array([[0, 0], [2, 2], [3, 4], [5, 5]]), probabilities)
[WordSteps(text='ab', first=0, last=2, confidence=0.883...), WordSteps(text='b', first=5, last=5, confidence=0.94)]
"""

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np


class WordSteps(NamedTuple):
    """A word: its text, the first and last step of its characters' firing, and the confidence in it."""

    text: str
    first: int
    last: int
    confidence: float


def split_words(
    tokens: Sequence[str], labels: Sequence[int], steps: np.ndarray, probabilities: np.ndarray
) -> list[WordSteps]:
    """The words of a reading, left to right: `labels` split at white space (a token such as " "), none empty.

    `steps` (labels, 2) holds the first and last step where each label fires (`CtcDecoder.read`), `probabilities`
    the line's network outputs (steps, classes). Their texts joined with single spaces are the reading's text, its
    white space stripped and collapsed.

    A character's probability is the network's most for it at the steps where it fires (a CTC network fires a label
    at a step or two, and where it is sure at one, the character is read); a word's confidence is the product of its
    characters': the chance that it is read right throughout, if its characters are read independently. A word is
    as doubtful as its most doubtful character, and more so for several: what a reader checking words wants. (The
    line's confidence, over some 40 characters, is per character instead; a word has 4 or 5, short enough for its
    product to read as a probability.)
    """
    labels = list(labels)
    steps = np.asarray(steps).reshape(-1, 2)
    breaks = [i for i, label in enumerate(labels) if not tokens[label].strip()]
    bounds = zip([0, *(i + 1 for i in breaks)], [*breaks, len(labels)], strict=True)
    spans = [(start, end) for start, end in bounds if end > start]  # no empty words
    if not spans:
        return []
    # Each character's probability: the most over its steps (gathered in one go, then reduced per character).
    lengths = steps[:, 1] - steps[:, 0] + 1
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    frames = np.arange(lengths.sum()) - np.repeat(offsets - steps[:, 0], lengths)
    firing = np.maximum.reduceat(probabilities[frames, np.repeat(labels, lengths)], offsets)
    return [
        WordSteps(
            "".join(tokens[label] for label in labels[start:end]),
            int(steps[start, 0]),
            int(steps[end - 1, 1]),
            float(np.prod(firing[start:end], dtype=np.float64)),
        )
        for start, end in spans
    ]
