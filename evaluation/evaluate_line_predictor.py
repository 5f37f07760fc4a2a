"""Character and word error rates of a shipped line predictor on its data set's test split (configured data source).

    TEXT_RECOGNIZER_DATA_MIRROR=../shared/data/raw NLTK_DATA=../shared/data/nltk_data \
        python evaluation/evaluate_line_predictor.py --dataset iam_lines

The test split is made as the shipped model's training run made it (its saved data set arguments): for IAM lines,
IAM's writer-independent test lines; for EMNIST Lines, lines drawn with the same seed from EMNIST test images.
The last line printed is `cer: <value>`. As a pytest module it is a validation test of each shipped line predictor.
"""

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from text_recognizer.datasets import EmnistLinesDataset  # noqa: E402
from text_recognizer.line_predictor import LinePredictor  # noqa: E402
from text_recognizer.models.base import WEIGHTS_DIRNAME  # noqa: E402

# IAM: a guard against regressions of the shipped model and its decoder (4.8% on these lines; the project aims for 10%).
CER_CEILINGS = {"emnist_lines": 0.08, "iam_lines": 0.06}
# The validation test reads at most this many test lines: enough for a stable rate, few enough for CI.
CI_NUM_LINES = 500


def load_test_lines(predictor: LinePredictor, num_lines: int) -> tuple[np.ndarray, np.ndarray]:
    """The first `num_lines` lines of the test split the predictor's model was evaluated on, and their labels."""
    # The data set as the model was trained on it (its shipped config).
    dataset_args = json.loads((WEIGHTS_DIRNAME / f"{predictor.model.name}.json").read_text())["config"]["dataset_args"]
    dataset_cls = type(predictor.model.data)
    if dataset_cls is EmnistLinesDataset:
        # The test split is drawn from its own random stream, so skipping the training lines leaves it unchanged.
        dataset_args = {**dataset_args, "num_train": 0, "num_test": num_lines}
    dataset = dataset_cls(**dataset_args)
    dataset.load_or_generate_data()
    return dataset.x_test[:num_lines], dataset.y_test[:num_lines]


def evaluate(dataset: str, num_lines: int, decoder: dict[str, Any] | None = None) -> dict[str, float]:
    """Character and word error rates and line accuracy of the shipped predictor for `dataset` on its test lines.

    `decoder` replaces the way the shipped config decodes (see `LinePredictor`).
    """
    predictor = LinePredictor(dataset, decoder=decoder)
    x, y = load_test_lines(predictor, num_lines)
    return {**predictor.model.evaluate(x, y), "lines": len(x)}


@pytest.mark.parametrize("dataset", sorted(CER_CEILINGS))
def test_line_predictor_cer(dataset: str) -> None:
    metrics = evaluate(dataset, CI_NUM_LINES)
    assert metrics["cer"] <= CER_CEILINGS[dataset], metrics


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="iam_lines", choices=sorted(CER_CEILINGS))
    parser.add_argument("--num-lines", type=int, default=1000, help="test lines to read (at most the split's)")
    parser.add_argument(
        "--decoder",
        type=json.loads,
        help='decode otherwise than the shipped config says, e.g. \'{}\' (greedy) or \'{"beam_width": 10}\'',
    )
    args = parser.parse_args()
    metrics = evaluate(args.dataset, args.num_lines, args.decoder)
    print(f"lines: {metrics['lines']}")
    print(f"line_accuracy: {metrics['line_accuracy']:.4f}")
    print(f"wer: {metrics['wer']:.4f}")
    print(f"cer: {metrics['cer']:.4f}")
