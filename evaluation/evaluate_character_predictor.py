"""Accuracy of the shipped character artifact on the EMNIST test split of the configured data source.

    TEXT_RECOGNIZER_DATA_MIRROR=../shared/data/raw python evaluation/evaluate_character_predictor.py --network lenet

The last line printed is `accuracy: <value>`. As a pytest module it is a validation test: each shipped artifact must
stay above its accuracy floor.
"""

import argparse

import numpy as np
import pytest

from text_recognizer.datasets import EmnistDataset
from text_recognizer.predictors import CharacterPredictor

# ByClass tops out near 88%: o/O/0, l/1/I and the like are ambiguous even to people.
ACCURACY_FLOORS = {"lenet": 0.86, "mlp": 0.78}


def evaluate(network: str) -> float:
    """Share of the test split the shipped `network` classifies correctly."""
    dataset = EmnistDataset()
    dataset.load_or_generate_data()
    # The data set stores white ink on black; a page is dark on light.
    predictions = CharacterPredictor(network).predict_pages(list(255 - dataset.x_test))
    expected = [dataset.mapping[int(label)] for label in dataset.y_test]
    return float(np.mean([p.text == char for p, char in zip(predictions, expected, strict=True)]))


@pytest.mark.parametrize("network", sorted(ACCURACY_FLOORS))
def test_character_predictor_accuracy(network: str) -> None:
    accuracy = evaluate(network)
    print(f"{network} accuracy: {accuracy:.4f}")
    assert accuracy >= ACCURACY_FLOORS[network]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--network", default="lenet", choices=sorted(ACCURACY_FLOORS))
    print(f"accuracy: {evaluate(parser.parse_args().network):.4f}")
