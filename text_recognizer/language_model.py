"""A character n-gram language model, which CTC beam search weighs readings with (see networks/ctc.py).

It is fitted on English prose (the Brown corpus, by `training/build_language_model.py`) and shipped in `weights/`
beside the line models, so that prediction needs no corpus:

    >>> lm = CharNgramModel.load("text_recognizer/weights/CharNgramModel_brown.npz")
    >>> probabilities = lm.probabilities("the quick brow")   # over lm.alphabet; "n" is by far the likeliest
    >>> lm.alphabet[probabilities.argmax()]
    'n'
"""

import os
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

# Distributions kept for contexts already seen; a long-running server starts afresh past this many (about 30 MB).
_CACHE_SIZE = 50_000
# Each character is stored as the byte 1 + its index in the alphabet: numpy's fixed-width bytes drop trailing zeros.
_OFFSET = 1


class CharNgramModel:
    """P(next character | the `order` - 1 characters before it), Witten-Bell interpolated down to a uniform guess.

    Witten-Bell trusts a context's counts by how many different characters have followed it, so a long context seen
    a few times with one continuation still leaves room for the others; no held-out tuning is needed.

    Args:
        alphabet: the characters modelled, in the order of the probability vectors (a line model's mapping, less the
            CTC blank).
        ngrams: per length n from 1 to `order`, the counted n-grams, encoded as bytes, sorted.
        counts: per length, how often each of those n-grams occurred.
    """

    def __init__(self, alphabet: str, ngrams: list[np.ndarray], counts: list[np.ndarray]):
        self.alphabet = alphabet
        self.order = len(ngrams)
        self._ngrams = ngrams
        self._counts = [c.astype(np.float64) for c in counts]
        self._index = {char: i for i, char in enumerate(alphabet)}
        self._cache: dict[bytes, np.ndarray] = {}

    @classmethod
    def fit(cls, text: str, alphabet: str, order: int) -> "CharNgramModel":
        """Count the n-grams of `text`, whose characters must all be in `alphabet`.

        Every n-gram is kept: Witten-Bell reads a context's number of distinct continuations from its counts, which
        pruning rare n-grams would understate (on IAM's validation text, pruning singletons costs 0.2 bits a character).
        """
        outside = set(text) - set(alphabet)
        if outside:
            raise ValueError(f"The text has characters outside the alphabet: {''.join(sorted(outside))!r}")
        encoded = text.encode("latin-1").translate(bytes.maketrans(alphabet.encode("latin-1"), _codes(len(alphabet))))
        ngrams, counts = [], []
        for n in range(1, order + 1):
            counter = Counter(encoded[i : i + n] for i in range(len(encoded) - n + 1))
            grams = sorted(counter)
            ngrams.append(np.array(grams, dtype=f"S{n}"))
            counts.append(np.array([counter[gram] for gram in grams], dtype=np.uint32))
        return cls(alphabet, ngrams, counts)

    def probabilities(self, context: str) -> np.ndarray:
        """P(each character of `alphabet` | the end of `context`); characters outside the alphabet end the context."""
        codes = bytearray()
        for char in reversed(context[-(self.order - 1) :] if self.order > 1 else ""):
            if char not in self._index:
                break
            codes.insert(0, self._index[char] + _OFFSET)
        return self._distribution(bytes(codes))

    def _distribution(self, context: bytes) -> np.ndarray:
        cached = self._cache.get(context)  # one lookup: another thread may clear the cache between two
        if cached is not None:
            return cached
        lower = self._distribution(context[1:]) if context else np.full(len(self.alphabet), 1 / len(self.alphabet))
        # The n-grams that extend `context` by one character are contiguous in the sorted array of the next length.
        ngrams, all_counts = self._ngrams[len(context)], self._counts[len(context)]
        start, end = np.searchsorted(ngrams, [context, context + b"\xff"])
        counts = all_counts[start:end]
        if not len(counts):
            distribution = lower
        else:
            labels = ngrams[start:end].view(np.uint8).reshape(end - start, -1)[:, -1] - _OFFSET
            distinct = len(counts)
            distribution = lower * distinct
            distribution[labels] += counts
            distribution /= counts.sum() + distinct
        if len(self._cache) >= _CACHE_SIZE:
            self._cache.clear()
        self._cache[context] = distribution
        return distribution

    def save(self, path: Path | str) -> Path:
        """Write the model to an `.npz` file, atomically."""
        path = Path(path)
        partial = path.with_name(".partial-" + path.name)
        with open(partial, "wb") as f:
            arrays: dict[str, Any] = {"alphabet": np.array(self.alphabet)}
            arrays.update({f"ngrams_{n}": grams for n, grams in enumerate(self._ngrams, 1)})
            arrays.update({f"counts_{n}": counts.astype(np.uint32) for n, counts in enumerate(self._counts, 1)})
            np.savez_compressed(f, **arrays)
        os.replace(partial, path)
        return path

    @classmethod
    def load(cls, path: Path | str) -> "CharNgramModel":
        """A model written by `save`."""
        with np.load(path) as data:
            order = sum(name.startswith("ngrams_") for name in data.files)
            return cls(
                str(data["alphabet"]),
                [data[f"ngrams_{n}"] for n in range(1, order + 1)],
                [data[f"counts_{n}"] for n in range(1, order + 1)],
            )


def _codes(size: int) -> bytes:
    return bytes(range(_OFFSET, _OFFSET + size))
