"""Whether a closed word lexicon in the beam search reads IAM lines better than the shipped character language model.

    TEXT_RECOGNIZER_DATA_MIRROR=../shared/data/raw NLTK_DATA=../shared/data/nltk_data \\
        python evaluation/evaluate_word_lexicon.py [--word-lists /usr/share/dict/british-english ...]

The lexicon is the Brown corpus' words as written (`sentence_generator.written_text`: punctuation glued on as IAM's
transcriptions have it), plus those of `--word-lists` (e.g. Debian's `wbritish` and `wamerican`), and its language
model a word bigram of Brown (absolute discounting, backing off to add-one unigrams). flashlight's `LexiconDecoder`
then only reads words of the lexicon. The shipped IAM line model's network runs once on the validation and test
splits; each `--lm-weights` x `--word-scores` pair decodes the validation split, and the best (lowest WER) is measured
on the test split beside the shipped decoder. No IAM text is counted. Printed: how many test words the lexicon lacks
(a floor on the WER of any closed-lexicon reading), each reading's CER and WER; the last line is `cer: <lexicon CER>`.
"""

import argparse
import itertools
import math
import sys
import tempfile
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from flashlight.lib.text.decoder import LexiconDecoder, LexiconDecoderOptions, SmearingMode, Trie
from flashlight.lib.text.decoder.kenlm import KenLM
from flashlight.lib.text.dictionary import Dictionary

from text_recognizer.decoding import CtcDecoder
from text_recognizer.metrics import character_error_rate, word_error_rate

BASE_MODEL = "LineModelCtc_IamLinesDataset_line_lstm_ctc"
DISCOUNT = 0.75  # absolute discounting's, the usual choice (Ney et al. 1994)
UNKNOWN = "<unk>"


def write_word_bigram(words: Sequence[str], vocabulary: set[str], path: Path) -> None:
    """An ARPA word bigram of the running text `words`, over `vocabulary` (words of the text outside it are dropped).

    Unigrams are add-one estimates over the vocabulary; a bigram seen c times after a word seen n times gets
    (c - D) / n plus the back-off weight D * (its distinct successors) / n times the unigram, so each row sums to 1.
    A line may end anywhere in a sentence, so `</s>` costs nothing but the back-off.
    """
    kept = [word for word in words if word in vocabulary]
    unigrams = Counter(kept)
    bigrams = Counter(zip(kept, kept[1:], strict=False))
    total = len(kept) + len(vocabulary)
    unigram = {word: (unigrams[word] + 1) / total for word in vocabulary}
    successors = Counter(first for first, _ in bigrams)
    lines = ["\\data\\", f"ngram 1={len(vocabulary) + 3}", f"ngram 2={len(bigrams)}", "", "\\1-grams:"]
    # A line starts anywhere in a sentence: <s> backs off to the unigram entirely.
    lines += ["-99\t<s>\t0", "0\t</s>", f"{math.log10(1 / total):.6f}\t{UNKNOWN}"]
    for word in sorted(vocabulary):
        backoff = DISCOUNT * successors[word] / unigrams[word] if successors[word] else 1.0
        lines.append(f"{math.log10(unigram[word]):.6f}\t{word}\t{math.log10(backoff):.6f}")
    lines += ["", "\\2-grams:"]
    for (first, second), count in sorted(bigrams.items()):
        probability = (count - DISCOUNT) / unigrams[first] + DISCOUNT * successors[first] / unigrams[first] * unigram[
            second
        ]
        lines.append(f"{math.log10(probability):.6f}\t{first} {second}")
    path.write_text("\n".join([*lines, "", "\\end\\", ""]))


class LexiconCtcDecoder(CtcDecoder):
    """`CtcDecoder`'s beam search, reading only the words of a lexicon, scored by a word language model."""

    def __init__(
        self, tokens: Sequence[str], blank: int, lexicon: Sequence[str], arpa: Path, lm_weight: float, word_score: float
    ):
        super().__init__(tokens, blank, beam_width=16)
        self.lm_weight, self.word_score = lm_weight, word_score
        index = {token: i for i, token in enumerate(self.tokens)}
        self._words = [UNKNOWN, *lexicon]
        self._word_lm = KenLM(str(arpa), Dictionary(self._words))
        self._trie = Trie(len(self.tokens), self._start)
        start = self._word_lm.start(False)
        for label, word in enumerate(self._words[1:], 1):
            # Each word's unigram log10 probability, smeared up the trie so that a prefix's hope can prune early.
            self._trie.insert([index[char] for char in word], label, self._word_lm.score(start, label)[1])
        self._trie.smear(SmearingMode.MAX)

    def _best_tokens(self, emissions: np.ndarray) -> list[int]:
        steps, classes = emissions.shape
        closed = {"word_score": self.word_score, "unk_score": -math.inf}  # a word outside the lexicon is never read
        options = LexiconDecoderOptions(**self._search_options(classes), **closed)
        decoder = LexiconDecoder(options, self._trie, self._word_lm, self._start, self.blank, 0, [], False)
        return list(decoder.decode(emissions.ctypes.data, steps, classes)[0].tokens)


def rates(model: Any, decoder: CtcDecoder, outputs: np.ndarray, texts: list[str]) -> dict[str, float]:
    """CER and WER of `decoder`'s readings of a split's network outputs."""
    readings = ["".join(model.data.mapping[label] for label in r.labels).strip() for r in decoder.read(outputs)]
    return {"cer": character_error_rate(readings, texts), "wer": word_error_rate(readings, texts)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--word-lists", type=Path, nargs="*", default=[], help="files of words, one per line")
    parser.add_argument("--lm-weights", type=float, nargs="+", default=[0.3, 0.6, 1.0])
    parser.add_argument("--word-scores", type=float, nargs="+", default=[0.0, 2.0])
    args = parser.parse_args(argv)
    for path in args.word_lists:
        if not path.is_file():
            parser.error(f"No word list {path}")

    from text_recognizer.datasets.sentence_generator import written_text
    from text_recognizer.models.base import load_shipped_model

    model: Any = load_shipped_model(BASE_MODEL)
    model.data.load_or_generate_data()
    data = model.data
    alphabet = set(data.mapping) - {data.mapping[data.padding_label], " "}
    running = written_text().split()
    listed = {word for path in args.word_lists for word in path.read_text(errors="replace").split()}
    lexicon = sorted(word for word in set(running) | listed if set(word) <= alphabet)
    test_words = [word for text in data.texts["test"] for word in text.split()]
    known = set(lexicon)
    print(f"lexicon: {len(lexicon)} words; {sum(w not in known for w in test_words) / len(test_words):.2%} of the "
          f"{len(test_words)} test words are not in it")  # fmt: skip
    splits = {
        "validation": (model.network.predict(data.x_val, batch_size=64, verbose=0), data.texts["validation"]),
        "test": (model.network.predict(data.x_test, batch_size=64, verbose=0), data.texts["test"]),
    }
    with tempfile.TemporaryDirectory() as tmp:
        arpa = Path(tmp) / "words.arpa"
        write_word_bigram(running, known, arpa)
        grid = []
        for lm_weight, word_score in itertools.product(args.lm_weights, args.word_scores):
            decoder = LexiconCtcDecoder(data.mapping, data.padding_label, lexicon, arpa, lm_weight, word_score)
            grid.append((rates(model, decoder, *splits["validation"]), decoder))
            print(f"validation lm_weight {lm_weight} word_score {word_score}: "
                  f"cer {grid[-1][0]['cer']:.4f} wer {grid[-1][0]['wer']:.4f}", flush=True)  # fmt: skip
        best = min(grid, key=lambda row: row[0]["wer"])[1]
        lexicon_test = rates(model, best, *splits["test"])
    shipped = rates(model, model.decoder, *splits["test"])
    shipped_args = f"beam {model.decoder.beam_width}, {model.language_model}, lm_weight {model.decoder.lm_weight}"
    print(f"test, shipped decoder ({shipped_args}): cer {shipped['cer']:.4f} wer {shipped['wer']:.4f}")
    print(f"test, lexicon (lm_weight {best.lm_weight}, word_score {best.word_score}): "
          f"cer {lexicon_test['cer']:.4f} wer {lexicon_test['wer']:.4f}")  # fmt: skip
    print(f"cer: {lexicon_test['cer']:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())


def test_word_bigram_sums_to_one_after_every_word(tmp_path: Path) -> None:
    """KenLM reads the file, and after each word the probabilities of the next (seen or not) add up to 1."""
    vocabulary = {"a", "b", "c", "d"}
    arpa = tmp_path / "words.arpa"
    write_word_bigram("a b a c a b x d".split(), vocabulary, arpa)
    words = [UNKNOWN, *sorted(vocabulary)]
    lm = KenLM(str(arpa), Dictionary(words))
    for label in range(1, len(words)):
        after = lm.score(lm.start(False), label)[0]
        total = sum(10 ** lm.score(after, following)[1] for following in range(1, len(words)))
        assert abs(total - 1) < 1e-4, (words[label], total)
