"""A character n-gram language model, which CTC beam search weighs readings with (see `text_recognizer.decoding`).

It is fitted on English prose (the Brown corpus, by `training/build_language_model.py`) and shipped in `weights/`
beside the line models, so that prediction needs no corpus:

    >>> lm = CharNgramModel.load("text_recognizer/weights/CharNgramModel_brown.npz")
    >>> probabilities = lm.probabilities("the quick brow")   # over lm.alphabet; "n" is by far the likeliest
    >>> lm.alphabet[probabilities.argmax()]
    'n'

The decoder reads it in ARPA form, as KenLM does (`write_arpa`; `arpa_file` keeps one per model in a cache).
"""

import gzip
import os
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from text_recognizer.decoding.arpa import SPACE_TOKEN
from text_recognizer.util import atomic_path, sha256_of

#: Where shipped language models are, by name (`<name>.npz`).
WEIGHTS_DIRNAME = Path(__file__).resolve().parent / "weights"
#: Where `arpa_file` keeps the ARPA files it writes: derived data, as data/processed is.
ARPA_CACHE_DIRNAME = Path(__file__).resolve().parents[1] / "data" / "cache" / "language_models"
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

    def write_arpa(self, path: Path | str) -> Path:
        """Write the model as an ARPA back-off model that KenLM scores as `probabilities` does; `.gz` compresses it.

            >>> lm.write_arpa("lm.arpa.gz")   # for text_recognizer.decoding.CtcDecoder(..., language_model=path)

        Interpolated Witten-Bell is back-off in disguise: P(c | context) is, for a character seen after the context,
        the interpolated probability, else (1 - lambda(context)) * P(c | shorter context). So each seen n-gram is
        listed with its interpolated log10 probability, and each context with log10(1 - lambda) as its back-off.

        Words are characters, the space spelled `SPACE_TOKEN`. A line starts as if after a space (the context " " of
        `probabilities` at a line's start): each n-gram that starts with the space is listed again with `<s>` in its
        place. A line ends as if before a space: each n-gram that ends with the space is listed again with `</s>`
        in its place, so that a reading stopping in the middle of a word pays for it. Log-probabilities are written
        to 7 significant digits, about what KenLM keeps (float32). The file does not depend on any decoder setting.
        """
        if " " not in self._index:
            raise ValueError("An ARPA file needs the space in the alphabet: lines start and end as at a space")
        path = Path(path)
        header = [
            "# text_recognizer.language_model.CharNgramModel: interpolated Witten-Bell, as back-off",
            f"# order: {self.order}",
            f"# space: {SPACE_TOKEN}",
            "# <s>: as after a space",
            "# </s>: as a space",
            "",
            "\\data\\",
        ]
        sections = [self._arpa_lines(n, *orders) for n, orders in enumerate(self._backoff_form(), 1)]
        header += [f"ngram {n}={len(lines)}" for n, lines in enumerate(sections, 1)]
        with atomic_path(path) as partial, open(partial, "wb") as file:
            # No name nor time in the gzip header: the same model gives the same bytes, whenever it is written.
            out = gzip.GzipFile("", "wb", compresslevel=6, fileobj=file, mtime=0) if path.suffix == ".gz" else file
            with out as f:
                f.write("\n".join(header).encode() + b"\n")
                for n, lines in enumerate(sections, 1):
                    f.write(f"\n\\{n}-grams:\n".encode() + "\n".join(lines).encode() + b"\n")
                f.write(b"\n\\end\\\n")
        return path

    def _backoff_form(self) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Per order: its n-grams (sorted, encoded), their interpolated probabilities, and their back-offs as contexts
        (1 for a context nothing followed, and for the highest order)."""
        size = len(self.alphabet)
        # Order 1 lists every character, also those the text never had (their share of the uniform guess).
        unigrams = np.frombuffer(_codes(size), dtype="S1")
        counts = np.zeros(size)
        counts[self._ngrams[0].view(np.uint8) - _OFFSET] = self._counts[0]
        distinct = len(self._counts[0])
        orders = [(unigrams, (counts + distinct / size) / (counts.sum() + distinct))]
        backoffs = []
        for n in range(2, self.order + 1):
            (shorter, lower), ngrams = orders[-1], self._ngrams[n - 1]
            codes = ngrams.view(np.uint8).reshape(len(ngrams), n)
            # Each n-gram's context, and its last n - 1 characters: both were counted, one order down.
            context, suffix = _lookup(shorter, codes[:, :-1]), _lookup(shorter, codes[:, 1:])
            total = np.bincount(context, weights=self._counts[n - 1], minlength=len(shorter))
            distinct_next = np.bincount(context, minlength=len(shorter)).astype(np.float64)
            weight = total + distinct_next
            orders.append((ngrams, (self._counts[n - 1] + distinct_next[context] * lower[suffix]) / weight[context]))
            backoffs.append(np.divide(distinct_next, weight, out=np.ones(len(shorter)), where=weight > 0))
        backoffs.append(np.ones(len(orders[-1][0])))
        return [
            (ngrams, probabilities, backoff) for (ngrams, probabilities), backoff in zip(orders, backoffs, strict=True)
        ]

    def _arpa_lines(self, n: int, ngrams: np.ndarray, probabilities: np.ndarray, backoffs: np.ndarray) -> list[str]:
        """The lines of the ARPA file's n-grams of order `n`: `log10 P <tab> words [<tab> log10 back-off]`."""
        codes = ngrams.view(np.uint8).reshape(len(ngrams), n)
        # Every word is one character, so an n-gram's words are its characters with spaces between.
        spelling = np.zeros(256, dtype=np.uint8)
        spelling[_OFFSET : _OFFSET + len(self.alphabet)] = list(self.alphabet.replace(" ", SPACE_TOKEN).encode())
        spelled = np.full((len(ngrams), 2 * n - 1), ord(" "), dtype=np.uint8)
        spelled[:, ::2] = spelling[codes]
        words = spelled.view(f"S{2 * n - 1}").ravel().astype(str).tolist()
        log_p, log_b = np.log10(probabilities).tolist(), np.log10(backoffs).tolist()
        lines = [_arpa_line(p, w, b) for p, w, b in zip(log_p, words, log_b, strict=True)]
        space = _OFFSET + self._index[" "]
        starts, ends = (np.flatnonzero(codes[:, i] == space).tolist() for i in (0, -1))
        # <s> never follows anything: its own log-probability is ARPA's "never", -99.
        lines += [_arpa_line(-99.0 if n == 1 else log_p[i], "<s>" + words[i][1:], log_b[i]) for i in starts]
        # </s> is never a context, so it has no back-off; it may end an n-gram that <s> starts (not <s> itself).
        lines += [_arpa_line(log_p[i], words[i][:-1] + "</s>", 0.0) for i in ends]
        lines += [
            _arpa_line(log_p[i], "<s>" + words[i][1:-1] + "</s>", 0.0) for i in ends if n > 1 and codes[i, 0] == space
        ]
        if n == 1:
            lines.append(_arpa_line(-100.0, "<unk>", 0.0))  # never asked for (the blank): listed, so KenLM keeps quiet
        return lines

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


def arpa_file(language_model: str | Path, cache_dirname: Path | None = None) -> Path:
    """The gzip-compressed ARPA file (`CharNgramModel.write_arpa`) of a saved model: a shipped one's name, as in a
    line model's config (`weights/<name>.npz`), or the path of an `.npz`. Written into `cache_dirname` (by default
    `ARPA_CACHE_DIRNAME`) on first use, in a few seconds; it is about 11 MB for the shipped Brown 6-gram.

        >>> arpa_file("CharNgramModel_brown")   # data/cache/language_models/CharNgramModel_brown-<sha256>.arpa.gz

    The name holds the model file's SHA-256, so a model rebuilt is never read stale; the file is written under a
    unique temporary name and then renamed, so processes asking at once never read a partial one.
    """
    path = Path(language_model)
    if path.suffix != ".npz":
        path = WEIGHTS_DIRNAME / f"{language_model}.npz"
    if not path.is_file():
        raise ValueError(f"No language model {str(language_model)!r}: {path} is missing")
    target = (cache_dirname or ARPA_CACHE_DIRNAME) / f"{path.stem}-{sha256_of(path)[:16]}.arpa.gz"
    if not target.is_file():
        CharNgramModel.load(path).write_arpa(target)
    return target


def _codes(size: int) -> bytes:
    return bytes(range(_OFFSET, _OFFSET + size))


def _lookup(sorted_grams: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Index in `sorted_grams` of each row of `codes` (encoded n-grams, all present)."""
    keys = np.ascontiguousarray(codes).view(f"S{codes.shape[1]}").ravel()
    return np.searchsorted(sorted_grams, keys)


def _arpa_line(log_probability: float, words: str, log_backoff: float) -> str:
    """An n-gram's line; a back-off of log10 1 goes without saying."""
    if log_backoff == 0.0:
        return f"{log_probability:.7g}\t{words}"
    return f"{log_probability:.7g}\t{words}\t{log_backoff:.7g}"
