"""CTC decoding of softmax outputs: the greedy best path, or beam search in C++ (flashlight-text) with a character
language model (an ARPA file, read by flashlight's KenLM).

    >>> tokens = list("ab_")   # the character of each class; "_" is the blank
    >>> probabilities = np.eye(3, dtype=np.float32)[[[0, 0, 2, 0, 1, 1, 2]]] * 0.97 + 0.01
    >>> CtcDecoder(tokens, blank=2, beam_width=4).decode(probabilities)[0]
    [[0, 0, 1]]
"""

import contextlib
import functools
import math
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from flashlight.lib.text.decoder import CriterionType, LexiconFreeDecoder, LexiconFreeDecoderOptions, ZeroLM
from flashlight.lib.text.decoder.kenlm import KenLM
from flashlight.lib.text.dictionary import Dictionary

from text_recognizer.decoding.arpa import MARKERS, SPACE_TOKEN, read_arpa_summary
from text_recognizer.decoding.ctc import path_labels, sequence_probabilities

# Beam search's pruning, which sets its speed (chosen on IAM's validation split: see training/tune_decoder.py). At
# each step it tries the likeliest BEAM_SIZE_TOKEN classes, and drops readings scoring more than BEAM_THRESHOLD
# (natural log) below the best. It skips a step where the network gives the blank more than 1 - SURE_BLANK after
# another such step (half of an IAM line's steps): a reading could gain next to nothing there, and every reading
# pays the same for the blank.
BEAM_SIZE_TOKEN = 8
BEAM_THRESHOLD = 6.0
SURE_BLANK = 1e-3
# Probabilities are floored here before their log: a softmax can round to 0.
_TINY = float(np.finfo(np.float32).tiny)


class Reading(NamedTuple):
    """One line's reading: its labels, the confidence in them (see `CtcDecoder.decode`), and where each label fires:
    the first and last step (labels, 2) of its run in the best path (greedy) or in the best reading's alignment (beam
    search)."""

    labels: list[int]
    confidence: float
    steps: np.ndarray


@functools.lru_cache(maxsize=2)
def _kenlm(path: str, modified: int, words: tuple[str, ...]) -> KenLM:
    """The language model at `path`, loaded once (a second or so) for all decoders of the same file and tokens."""
    with _quiet_stderr():  # KenLM draws a progress bar on the process's stderr, which no Python setting reaches
        # The blank is no word of the file: KenLM maps it to <unk>, which is never asked for.
        return KenLM(path, Dictionary(list(words)))


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """File descriptor 2 points at /dev/null inside the block (its errors still come back as exceptions)."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


class CtcDecoder:
    """Reads label sequences from a CTC network's softmax outputs, with the network's confidence in each.

    Args:
        tokens: the character of each class; `tokens[blank]` is CTC's blank, and a space " " separates words.
        blank: the blank's class.
        beam_width: 1 without a language model: the greedy best path; more (or with a language model): beam search
            keeping this many readings.
        language_model: an ARPA file, plain or gzip-compressed (`CharNgramModel.write_arpa`), whose words are the
            tokens other than the blank, with the space spelled `|`; its `<s>` is what a line starts after. Beam
            search adds `lm_weight` times its log-probability of each character (and of the line's end) to the
            network's log-probability of the reading.
        lm_weight: how much the language model counts against the network.
        length_bonus: added to the network's log-probability of each class but the blank, at every step: a penalty
            on the blank, which favours reading a character over dropping it, to offset the language model's cost
            of each character. A character read at one step gains it once, at two steps twice (flashlight's search
            has no score per character read; the LM file cannot hold one either, as KenLM refuses probabilities
            above 1).

    Bad arguments are a ValueError. One decoder may serve several threads: each search makes its own flashlight
    decoder, and the loaded language model is shared and only read (flashlight holds the GIL while it searches).
    """

    def __init__(
        self,
        tokens: Sequence[str],
        blank: int,
        beam_width: int = 1,
        language_model: Path | None = None,
        lm_weight: float = 0.0,
        length_bonus: float = 0.0,
    ):
        self.tokens = list(tokens)
        if not 0 <= blank < len(self.tokens):
            raise ValueError(f"blank must be a class, 0 to {len(self.tokens) - 1}, not {blank}")
        if beam_width < 1:
            raise ValueError(f"beam_width must be at least 1, not {beam_width}")
        if lm_weight < 0 or (lm_weight and language_model is None):
            raise ValueError(f"lm_weight {lm_weight} needs a language_model and must not be negative")
        self.blank = blank
        self.beam_width = beam_width
        self.lm_weight = lm_weight
        self.length_bonus = length_bonus
        # The token beam search starts from: a line starts as if after a space (the language model's <s>).
        self._start = self.tokens.index(" ") if " " in self.tokens else blank
        self._language_model = None if language_model is None else self._load(Path(language_model))

    def _load(self, path: Path) -> KenLM:
        if not path.is_file():
            raise ValueError(f"No language model file {path}")
        words = [SPACE_TOKEN if token == " " else token for token in self.tokens]
        characters = {word for i, word in enumerate(words) if i != self.blank}
        if (
            SPACE_TOKEN in self.tokens
            or len(characters) != len(words) - 1
            or any(len(w.split()) != 1 for w in characters)
        ):
            raise ValueError(
                f"With a language model the tokens must be distinct, without white space or {SPACE_TOKEN!r}"
            )
        vocabulary = read_arpa_summary(path).vocabulary - MARKERS
        if vocabulary != characters:
            missing, extra = "".join(sorted(characters - vocabulary)), "".join(sorted(vocabulary - characters))
            raise ValueError(f"The language model {path} is not over the tokens: it lacks {missing!r}, has {extra!r}")
        try:
            return _kenlm(str(path.resolve()), path.stat().st_mtime_ns, tuple(words))
        except RuntimeError as e:  # KenLM's objections to the file
            raise ValueError(f"Cannot load the language model {path}: {e}") from e

    def decode(self, probabilities: np.ndarray) -> tuple[list[list[int]], np.ndarray]:
        """Label sequences of a batch of softmax outputs (batch, steps, classes), and the confidence in each.

        The confidence is the network's probability of the sequence (summed over all its alignments; neither the
        language model nor the length bonus plays a part) per label, i.e. P(sequence | outputs) ** (1 / length): a
        line of 40 characters each read at 0.95 has probability 0.13, but reads as sure as each of its characters.
        """
        readings = self.read(probabilities)
        return [reading.labels for reading in readings], np.array([reading.confidence for reading in readings])

    def read(self, probabilities: np.ndarray) -> list[Reading]:
        """What `decode` reads, line by line, with the steps where each label fires (see `Reading`)."""
        probabilities = np.asarray(probabilities, dtype=np.float32)
        if probabilities.ndim != 3 or probabilities.shape[2] != len(self.tokens):
            raise ValueError(f"Expected outputs (batch, steps, {len(self.tokens)}), not {probabilities.shape}")
        if self.beam_width == 1 and self._language_model is None:
            scores = self._scores(probabilities) if self.length_bonus else probabilities
            paths = [path_labels(path, self.blank) for path in scores.argmax(axis=-1)]
        else:
            paths = [self._search(line) for line in probabilities]
        sequences = [labels for labels, _ in paths]
        lengths = np.array([max(len(sequence), 1) for sequence in sequences])
        confidences = sequence_probabilities(probabilities, sequences, self.blank) ** (1 / lengths)
        return [
            Reading(labels, float(confidence), steps)
            for (labels, steps), confidence in zip(paths, confidences, strict=True)
        ]

    def _scores(self, probabilities: np.ndarray) -> np.ndarray:
        """Log-probabilities, with the length bonus on every class but the blank."""
        scores = np.log(np.maximum(probabilities, _TINY))
        scores[..., np.arange(len(self.tokens)) != self.blank] += self.length_bonus
        return scores

    def _search(self, probabilities: np.ndarray) -> tuple[list[int], np.ndarray]:
        """The best reading of one line's outputs (steps, classes), by flashlight's beam search, and the first and last
        step where each of its labels fires."""
        sure = probabilities[:, self.blank] > 1 - SURE_BLANK
        sure[1:] &= sure[:-1].copy()
        searched = np.flatnonzero(~sure)
        emissions = np.ascontiguousarray(self._scores(probabilities[searched]))
        # Its tokens: the start, one per step searched, the end. A token is read where it differs from the one before
        # (so a space right at the start is the start's) and is no blank; it fires at the steps searched it holds (a
        # step skipped is the blank's).
        labels, fired = path_labels(
            np.array(self._best_tokens(emissions)[1 : len(searched) + 1]), self.blank, self._start
        )
        return labels, searched[fired]

    def _best_tokens(self, emissions: np.ndarray) -> list[int]:
        """The tokens of the best reading of scores (steps, classes), as flashlight's decoders give them."""
        steps, classes = emissions.shape
        options = LexiconFreeDecoderOptions(**self._search_options(classes))
        language_model = ZeroLM() if self._language_model is None else self._language_model
        decoder = LexiconFreeDecoder(options, language_model, self._start, self.blank, [])
        return list(decoder.decode(emissions.ctypes.data, steps, classes)[0].tokens)

    def _search_options(self, classes: int) -> dict[str, Any]:
        """What every flashlight beam search of this decoder's takes (its options' keyword arguments)."""
        return {
            "beam_size": self.beam_width,
            "beam_size_token": min(BEAM_SIZE_TOKEN, classes),
            "beam_threshold": BEAM_THRESHOLD,
            # KenLM's scores are log10 probabilities; the network's natural logs.
            "lm_weight": self.lm_weight * math.log(10),
            "sil_score": 0.0,
            "log_add": True,  # a reading's alignments add up, as in CTC
            "criterion_type": CriterionType.CTC,
        }
