"""Fits the character n-gram language model that the IAM line predictor's beam search uses, and ships it.

    NLTK_DATA=../shared/data/nltk_data python training/build_language_model.py --order 6

It counts the n-grams of the Brown corpus as written (`sentence_generator.written_text`), over the characters of a
line data set (IAM lines' by default: the same as EMNIST Lines'), and writes `weights/<name>.npz` with a JSON beside it
holding the command, the corpus' SHA-256 and how well it predicts the data set's validation text (bits per
character; lower is better). No IAM transcription is counted, so the test split's text stays unseen.
`training/tune_decoder.py` then picks how much a line model's beam search trusts it.

    python training/build_language_model.py --arpa lm.arpa.gz

writes the shipped model (`--name`) as an ARPA file instead (gzip-compressed if the name ends in .gz; fitting
nothing), which `text_recognizer.decoding.CtcDecoder` reads; `text_recognizer.language_model.arpa_file` does the
same into a cache.
"""

import argparse
import math
import shlex
import sys
import time
from pathlib import Path

from text_recognizer.language_model import WEIGHTS_DIRNAME, CharNgramModel


def bits_per_character(language_model: CharNgramModel, texts: list[str]) -> float:
    """Mean -log2 P(character | the text before it) over `texts`, each read from a space (lines start at words)."""
    index = {char: i for i, char in enumerate(language_model.alphabet)}
    total, count = 0.0, 0
    for text in texts:
        for i, char in enumerate(text):
            total -= math.log2(language_model.probabilities(" " + text[:i])[index[char]])
            count += 1
    return total / max(count, 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--order", type=int, default=6, help="longest n-gram counted (default 6)")
    parser.add_argument("--dataset", default="IamLinesDataset", help="line data set whose characters are modelled")
    parser.add_argument("--name", default="CharNgramModel_brown", help="file name in weights/, without .npz")
    parser.add_argument("--arpa", type=Path, metavar="PATH", help="only write the model --name as an ARPA file")
    args = parser.parse_args(argv)
    if args.order < 1:
        parser.error("--order must be at least 1")
    if args.arpa is not None:
        source = WEIGHTS_DIRNAME / f"{args.name}.npz"
        if not source.is_file():
            parser.error(f"No language model {args.name!r}: {source} is missing")
        path = CharNgramModel.load(source).write_arpa(args.arpa)
        print(f"Wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
        return 0

    from text_recognizer import datasets
    from text_recognizer.datasets import DataError
    from text_recognizer.datasets.iam_lines_dataset import to_alphabet
    from text_recognizer.datasets.sentence_generator import corpus_sha256, written_text
    from text_recognizer.util import write_json

    if not hasattr(datasets, args.dataset):
        parser.error(f"Unknown data set {args.dataset!r}; choose one of {sorted(datasets.__all__)}")
    try:
        dataset = getattr(datasets, args.dataset)()
        blank = dataset.mapping[dataset.padding_label]
        alphabet = "".join(char for char in dataset.mapping if char != blank)
        start = time.perf_counter()
        text, _ = to_alphabet(written_text(), set(alphabet))
        language_model = CharNgramModel.fit(text, alphabet, args.order)
        print(f"Counted the n-grams of {len(text):,} characters in {time.perf_counter() - start:.0f} s")
        dataset.load_or_generate_data()
        bits = bits_per_character(language_model, dataset.texts["validation"])
        corpus = corpus_sha256()
    except DataError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    path = language_model.save(WEIGHTS_DIRNAME / f"{args.name}.npz")
    info = {
        "command": shlex.join(["python", "training/build_language_model.py", *(argv or sys.argv[1:])]),
        "corpus": "brown",
        "corpus_sha256": corpus,
        "order": args.order,
        "characters": len(text),
        "validation_bits_per_character": bits,
        "dataset": args.dataset,
        "dataset_sha256": dataset.raw_sha256(),
    }
    write_json(path.with_suffix(".json"), info)
    print(f"Wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
    print(f"validation_bits_per_character: {bits:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
