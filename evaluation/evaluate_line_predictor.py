"""Character and word error rates of a shipped line artifact on its data set's test split (configured data source),
or of any line artifact on any importable export.

    TEXT_RECOGNIZER_DATA_MIRROR=../shared/data/raw NLTK_DATA=../shared/data/nltk_data \
        python evaluation/evaluate_line_predictor.py --dataset iam_lines [--decoder '{}']
    python evaluation/evaluate_line_predictor.py --data my_transkribus_export [--model NAME] [--split test|all]

With `--data` (a PAGE XML or ALTO folder, a line folder, an FSDL export: see `text_recognizer.datasets.importers`),
the export's lines are made as `LinesDataset` makes them, at the artifact's line height and width, split by page as
`tasks/finetune_line_predictor.sh` splits them (`--split test`: the pages its fine-tuning held out; `all`: every
line); `--model` is an artifact name or data set key (default: IAM's reader).

The test split is made as the artifact's training run made it (the data set arguments its provenance records): for
IAM lines, IAM's writer-independent test lines; for EMNIST Lines, lines drawn with the same seed from EMNIST test
images. The artifact reads them as the data set stores them. The last line printed is `cer: <value>`. As a pytest
module it is a validation test of each shipped line artifact.
"""

import argparse
import json
from typing import Any

import numpy as np
import pytest

from text_recognizer import datasets
from text_recognizer.metrics import character_error_rate, line_accuracy, word_error_rate
from text_recognizer.predictors import LinePredictor

# Guards against regressions of the shipped artifacts and their decoders (IAM: 4.8% on these lines).
CER_CEILINGS = {"emnist_lines": 0.08, "iam_lines": 0.06}
# The validation test reads at most this many test lines: enough for a stable rate, few enough for CI.
CI_NUM_LINES = 500
# How tasks/finetune_line_predictor.sh splits an export (its dataset_args): --data --split test reads what it held out.
FINETUNE_SPLIT = {"validation_fraction": 0.15, "test_fraction": 0.15, "seed": 0}
SPLIT_ATTRIBUTES = {"train": "train", "validation": "val", "test": "test"}


def load_test_dataset(predictor: LinePredictor, num_lines: int) -> Any:
    """The data set (loaded) whose test split the predictor's model was evaluated on, with `num_lines` or more."""
    config = predictor.artifact.spec["provenance"]["config"]
    dataset_cls = getattr(datasets, config["dataset"])
    dataset_args = config.get("dataset_args") or {}
    if dataset_cls is datasets.EmnistLinesDataset:
        # The test split is drawn from its own random stream, so skipping the training lines leaves it unchanged.
        dataset_args = {**dataset_args, "num_train": 0, "num_test": num_lines}
    dataset = dataset_cls(**dataset_args)
    dataset.load_or_generate_data()
    return dataset


def load_test_lines(predictor: LinePredictor, num_lines: int) -> tuple[np.ndarray, list[str]]:
    """The first `num_lines` lines of the test split the predictor's model was evaluated on, and their texts."""
    dataset = load_test_dataset(predictor, num_lines)
    padding = dataset.mapping[dataset.padding_label]
    labels = dataset.y_test[:num_lines]
    texts = ["".join(dataset.mapping[label] for label in row).split(padding, 1)[0].strip() for row in labels]
    return dataset.x_test[:num_lines], texts


def load_data_lines(
    predictor: LinePredictor, data: str, split: str, num_lines: int, split_args: dict[str, Any] | None = None
) -> tuple[np.ndarray, list[str]]:
    """The first `num_lines` lines of `split` ("all": every split) of the export `data`, prepared for the artifact."""
    spec = predictor.artifact.spec["preprocessing"]
    if spec["method"] not in ("line", "found_line"):
        raise ValueError(f"{predictor.artifact.name} prepares {spec['method']!r} images, not lines")
    shape = {"image_height": spec["height"], "max_width": spec["max_width"]}
    if spec["method"] == "found_line":
        shape.update(find_line=True, margin=spec["margin"])
    args = split_args if split_args is not None else FINETUNE_SPLIT
    lines = datasets.LinesDataset(data, augment=False, **shape, **args)
    lines.load_or_generate_data()
    splits = ("train", "validation", "test") if split == "all" else (split,)
    x = np.concatenate([getattr(lines, f"x_{SPLIT_ATTRIBUTES[name]}") for name in splits])
    texts = [text for name in splits for text in lines.texts[name]]
    if not len(x):
        raise ValueError(f"{data} has no lines in its {split} split; try --split all")
    return x[:num_lines], texts[:num_lines]


def evaluate_data(
    data: str,
    model: str = "iam_lines",
    split: str = "test",
    num_lines: int = 10**9,
    decoder: dict[str, Any] | None = None,
) -> dict[str, float]:
    """Character and word error rates and line accuracy of the artifact `model` on the lines of the export `data`."""
    predictor = LinePredictor(model, decoder=decoder)
    x, targets = load_data_lines(predictor, data, split, num_lines)
    return _rates(predictor, x, targets)


def _rates(predictor: LinePredictor, x: np.ndarray, targets: list[str]) -> dict[str, float]:
    predictions = [text for text, _ in predictor.read_prepared(list(x))]
    return {
        "lines": len(x),
        "cer": character_error_rate(predictions, targets),
        "wer": word_error_rate(predictions, targets),
        "line_accuracy": line_accuracy(predictions, targets),
    }


def evaluate(dataset: str, num_lines: int, decoder: dict[str, Any] | None = None) -> dict[str, float]:
    """Character and word error rates and line accuracy of the shipped artifact for `dataset` on its test lines.

    `decoder` replaces the way the artifact decodes (see `LinePredictor`).
    """
    predictor = LinePredictor(dataset, decoder=decoder)
    x, targets = load_test_lines(predictor, num_lines)
    return _rates(predictor, x, targets)


@pytest.mark.parametrize("dataset", sorted(CER_CEILINGS))
def test_line_predictor_cer(dataset: str) -> None:
    metrics = evaluate(dataset, CI_NUM_LINES)
    assert metrics["cer"] <= CER_CEILINGS[dataset], metrics


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="iam_lines", choices=sorted(CER_CEILINGS))
    parser.add_argument("--data", help="an export to evaluate on instead (PAGE XML, ALTO, line folder, FSDL)")
    parser.add_argument("--model", default="iam_lines", help="with --data: an artifact name or data set key")
    parser.add_argument("--split", default="test", choices=("train", "validation", "test", "all"), help="with --data")
    parser.add_argument("--num-lines", type=int, default=1000, help="test lines to read (at most the split's)")
    parser.add_argument(
        "--decoder",
        type=json.loads,
        help="decode otherwise than the artifact says, e.g. '{}' (greedy) or '{\"beam_width\": 10}'",
    )
    args = parser.parse_args()
    if args.data is not None:
        metrics = evaluate_data(args.data, args.model, args.split, args.num_lines, args.decoder)
    else:
        metrics = evaluate(args.dataset, args.num_lines, args.decoder)
    print(f"lines: {metrics['lines']}")
    print(f"line_accuracy: {metrics['line_accuracy']:.4f}")
    print(f"wer: {metrics['wer']:.4f}")
    print(f"cer: {metrics['cer']:.4f}")
