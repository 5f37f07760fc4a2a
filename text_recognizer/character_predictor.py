"""Recognizes a single handwritten character.

    >>> from text_recognizer.character_predictor import CharacterPredictor
    >>> CharacterPredictor().predict("text_recognizer/tests/support/emnist/e.png")
    ('e', 0.98...)
"""

from text_recognizer.models.base import load_shipped_model
from text_recognizer.predictor import Predictor


class CharacterPredictor(Predictor):
    """Loads the shipped `CharacterModel_EmnistDataset_<network>` weights and classifies images."""

    def __init__(self, network: str = "lenet"):
        self.model = load_shipped_model(f"CharacterModel_EmnistDataset_{network}")
