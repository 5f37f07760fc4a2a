"""Character error rate of the shipped line predictor on the EMNIST Lines test split of the configured data source.

    TEXT_RECOGNIZER_DATA_MIRROR=../shared/data/raw NLTK_DATA=../shared/data/nltk_data \
        python evaluation/evaluate_line_predictor.py --dataset emnist_lines --num-lines 1000

The test split is drawn as the shipped model's training run drew it (same data set arguments and seed), from EMNIST
test-split images only. The last line printed is `cer: <value>`. As a pytest module it is a validation test.
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from text_recognizer.datasets import EmnistLinesDataset  # noqa: E402
from text_recognizer.line_predictor import LinePredictor  # noqa: E402
from text_recognizer.models.base import WEIGHTS_DIRNAME  # noqa: E402

CER_CEILINGS = {"emnist_lines": 0.08}
# The validation test reads this many test lines: enough for a stable rate, few enough for CI.
CI_NUM_LINES = 500


def load_test_lines(predictor: LinePredictor, num_lines: int) -> tuple[np.ndarray, np.ndarray]:
    """The first `num_lines` lines of the test split the predictor's model was evaluated on, and their labels."""
    if not isinstance(predictor.model.data, EmnistLinesDataset):
        raise ValueError(f"No test split is known for {type(predictor.model.data).__name__}")
    # The data set as the model was trained on it (its shipped config); the test split is drawn from its own random
    # stream, so skipping the training lines leaves it unchanged.
    dataset_args = json.loads((WEIGHTS_DIRNAME / f"{predictor.model.name}.json").read_text())["config"]["dataset_args"]
    dataset = EmnistLinesDataset(**{**dataset_args, "num_train": 0, "num_test": num_lines})
    dataset.load_or_generate_data()
    return dataset.x_test, dataset.y_test


def evaluate(dataset: str, num_lines: int) -> dict[str, float]:
    """Character error rate and line accuracy of the shipped predictor for `dataset` on its test lines."""
    predictor = LinePredictor(dataset)
    x, y = load_test_lines(predictor, num_lines)
    return predictor.model.evaluate(x, y)


def test_emnist_lines_cer() -> None:
    metrics = evaluate("emnist_lines", CI_NUM_LINES)
    assert metrics["cer"] <= CER_CEILINGS["emnist_lines"], metrics


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="emnist_lines", choices=sorted(CER_CEILINGS))
    parser.add_argument("--num-lines", type=int, default=1000, help="test lines to read")
    args = parser.parse_args()
    metrics = evaluate(args.dataset, args.num_lines)
    print(f"line_accuracy: {metrics['line_accuracy']:.4f}")
    print(f"cer: {metrics['cer']:.4f}")
