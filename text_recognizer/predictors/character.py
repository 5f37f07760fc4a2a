"""Recognizes a single handwritten character.

>>> from text_recognizer.predictors import CharacterPredictor
>>> CharacterPredictor().predict("text_recognizer/tests/support/emnist/upper_A.png")
Prediction(text='A', confidence=0.9..., lines=())
"""

from collections.abc import Sequence

import numpy as np

from text_recognizer.artifacts import load_artifact
from text_recognizer.predictors.base import Prediction, Predictor
from text_recognizer.preprocessing import prepare

# Images per network call: bounds the memory of a large batch.
BATCH_SIZE = 512


class CharacterPredictor(Predictor):
    """Classifies images with the shipped `CharacterModel_EmnistDataset_<network>` artifact."""

    def __init__(self, network: str = "lenet"):
        self.artifact = load_artifact(f"CharacterModel_EmnistDataset_{network}")
        self.classes: list[str] = self.artifact.spec["classes"]

    def predict_pages(self, pages: Sequence[np.ndarray]) -> list[Prediction]:
        predictions = []
        for start in range(0, len(pages), BATCH_SIZE):
            batch = np.stack(
                [prepare(page, self.artifact.spec["preprocessing"]) for page in pages[start : start + BATCH_SIZE]]
            )
            for probabilities in self.artifact.run(batch):
                label = int(probabilities.argmax())
                predictions.append(Prediction(self.classes[label], float(probabilities[label])))
        return predictions
