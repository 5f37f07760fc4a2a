"""Recognizes a single handwritten character.

    >>> from text_recognizer.character_predictor import CharacterPredictor
    >>> CharacterPredictor().predict("text_recognizer/tests/support/emnist/e.png")
    ('e', 0.98...)
"""

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from text_recognizer.models.base import load_shipped_model
from text_recognizer.util import read_image

ImageSource = str | Path | bytes | np.ndarray


class CharacterPredictor:
    """Loads the shipped `CharacterModel_EmnistDataset_<network>` weights and classifies images."""

    def __init__(self, network: str = "lenet"):
        self.model = load_shipped_model(f"CharacterModel_EmnistDataset_{network}")

    def predict(self, image: ImageSource) -> tuple[str, float]:
        """(character, confidence) for an image path, encoded bytes, data URL or greyscale array."""
        return self.predict_batch([image])[0]

    def predict_batch(self, images: Sequence[ImageSource]) -> list[tuple[str, float]]:
        return self.model.predict_on_images([read_image(image) for image in images])
