"""Random snippets of English text from the Brown corpus, cut on word boundaries to a maximum length.

NLTK_DATA=/path/to/nltk_data python -m text_recognizer.datasets.sentence_generator   # prints a few snippets

>>> generator = SentenceGenerator(max_length=34, alphabet=set(string.ascii_letters + " "))
>>> generator.generate(np.random.default_rng(0))
'After all the man had no'
"""

import functools
import hashlib
import re
import string
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from text_recognizer.datasets.dataset import DataError
from text_recognizer.datasets.iam_dataset import rebuild_text

CORPUS = "brown"


class SentenceGenerator:
    """Draws word-aligned snippets of at most `max_length` characters from the Brown corpus.

    Characters outside `alphabet` are dropped from the corpus text before cutting (with runs of spaces collapsed),
    so every snippet can be rendered from the images of a character data set.
    """

    def __init__(self, max_length: int, alphabet: Iterable[str]):
        self.max_length = max_length
        self.alphabet = set(alphabet)
        if " " not in self.alphabet:
            raise ValueError("The alphabet must contain the space that separates words")
        self.text = _clean_text(corpus_text(), self.alphabet)
        self.word_starts = np.array([0] + [m.end() for m in re.finditer(" ", self.text)])

    def generate(self, rng: np.random.Generator) -> str:
        """A snippet starting at a random word and ending on a random later word boundary, at most `max_length` long."""
        for _ in range(100):  # a start word longer than max_length has no valid end: draw another
            first = int(rng.integers(len(self.word_starts) - 1))
            start = self.word_starts[first]
            # Boundaries are the positions just past each following space; the snippet ends before that space.
            ends = self.word_starts[first + 1 : first + 2 + self.max_length] - 1
            ends = ends[ends - start <= self.max_length]
            if len(ends):
                return self.text[start : int(rng.choice(ends))]
        raise DataError(f"Could not draw a snippet of at most {self.max_length} characters from the corpus")


def _find_corpus() -> Path:
    """The installed corpus (its zip, or its folder), downloading it once if neither NLTK_DATA nor nltk has it."""
    import nltk

    try:
        pointer = nltk.data.find(f"corpora/{CORPUS}/")  # the trailing slash also finds a zipped corpus
    except LookupError:
        if not nltk.download(CORPUS, quiet=True, raise_on_error=False):
            raise DataError(
                f"The NLTK '{CORPUS}' corpus is not installed and could not be downloaded: point NLTK_DATA at a "
                f"folder holding corpora/{CORPUS}.zip, or run `python -m nltk.downloader {CORPUS}` with internet"
            ) from None
        pointer = nltk.data.find(f"corpora/{CORPUS}/")
    zipped = getattr(pointer, "zipfile", None)
    return Path(zipped.filename if zipped is not None else pointer.path)


@functools.cache
def corpus_sha256() -> str:
    """SHA-256 of the installed corpus' files, read without parsing them: a cheap key for caches built from it."""
    root = _find_corpus()
    files = [root] if root.is_file() else sorted(path for path in root.rglob("*") if path.is_file())
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.read_bytes())
    return digest.hexdigest()


@functools.cache
def corpus_text() -> str:
    """The Brown corpus' words joined by spaces."""
    _find_corpus()
    from nltk.corpus import brown

    return " ".join(brown.words())


@functools.cache
def written_text() -> str:
    """The Brown corpus as it would be written: each sentence's tokens joined as IAM's transcriptions are (`,` and
    `'s` glued to the word before, quotes to the words they enclose, `` and '' as ", -- as -)."""
    _find_corpus()
    from nltk.corpus import brown

    marks = {"``": '"', "''": '"', "--": "-"}
    return " ".join(rebuild_text([marks.get(token, token) for token in sentence])[0] for sentence in brown.sents())


def _clean_text(text: str, alphabet: set[str]) -> str:
    kept = text.translate({ord(char): None for char in set(text) - alphabet})
    return re.sub(" +", " ", kept).strip()


if __name__ == "__main__":
    generator = SentenceGenerator(34, set(string.ascii_letters + string.digits + " "))
    rng = np.random.default_rng(0)
    for _ in range(5):
        print(repr(generator.generate(rng)))
