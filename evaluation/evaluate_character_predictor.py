"""Accuracy of the shipped character predictor on the EMNIST test split of the configured data source.

    TEXT_RECOGNIZER_DATA_MIRROR=../shared/data/raw python evaluation/evaluate_character_predictor.py --network lenet

As a pytest module it is a validation test: each shipped model must stay above its accuracy floor.
"""

import argparse
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from text_recognizer.character_predictor import CharacterPredictor  # noqa: E402
from text_recognizer.datasets import EmnistDataset  # noqa: E402

# ByClass tops out near 88%: o/O/0, l/1/I and the like are ambiguous even to people.
ACCURACY_FLOORS = {"lenet": 0.86, "mlp": 0.78}


def evaluate(network: str) -> float:
    """Share of the test split the shipped `network` classifies correctly."""
    dataset = EmnistDataset()
    dataset.load_or_generate_data()
    model = CharacterPredictor(network).model
    return model.evaluate(dataset.x_test, dataset.y_test)["accuracy"]


@pytest.mark.parametrize("network", sorted(ACCURACY_FLOORS))
def test_character_predictor_accuracy(network: str) -> None:
    accuracy = evaluate(network)
    print(f"{network} accuracy: {accuracy:.4f}")
    assert accuracy >= ACCURACY_FLOORS[network]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--network", default="lenet", choices=sorted(ACCURACY_FLOORS))
    print(f"accuracy: {evaluate(parser.parse_args().network):.4f}")
