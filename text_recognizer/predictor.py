"""What every predictor does once it holds a model: read images from wherever they are, and run the model.

    >>> from text_recognizer.character_predictor import CharacterPredictor
    >>> CharacterPredictor().predict_batch(["a.png", b"<png bytes>", "data:image/png;base64,..."])
"""

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from text_recognizer.models.base import Model
from text_recognizer.util import read_image

ImageSource = str | Path | bytes | np.ndarray


class Predictor:
    """Inference with a shipped model; subclasses only choose which model."""

    model: Model

    def predict(self, image: ImageSource) -> tuple[str, float]:
        """(text, confidence) for an image path, encoded bytes, data URL or greyscale array."""
        return self.predict_batch([image])[0]

    def predict_batch(self, images: Sequence[ImageSource]) -> list[tuple[str, float]]:
        return self.model.predict_on_images([read_image(image) for image in images])
