"""What every predictor does once it holds a model: read images from wherever they are, and run the model.

    >>> from text_recognizer.character_predictor import CharacterPredictor
    >>> CharacterPredictor().predict_batch(["a.png", b"<png bytes>", "data:image/png;base64,..."])
"""

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from text_recognizer.util import read_image

if TYPE_CHECKING:  # importing the models imports Keras: not needed to list the modes
    from text_recognizer.models.base import Model

ImageSource = str | Path | bytes | np.ndarray
#: What an image can hold, each with a shipped predictor (`load_predictor`).
MODES = ("line", "paragraph", "character")


class Predictor:
    """Inference with a shipped model; subclasses only choose which model."""

    model: "Model"

    def predict(self, image: ImageSource) -> tuple[str, float]:
        """(text, confidence) for an image path, encoded bytes, data URL or greyscale array."""
        return self.predict_batch([image])[0]

    def predict_batch(self, images: Sequence[ImageSource]) -> list[tuple[str, float]]:
        return self.model.predict_on_images([read_image(image) for image in images])


def load_predictor(mode: str, network: str = "lenet") -> Any:
    """The shipped predictor for a mode of `MODES`: "character" (model `network`), "line" (the best shipped line
    model) or "paragraph"; each predicts (text, confidence), paragraphs a `ParagraphResult`."""
    # Imported here, as these modules import this one.
    if mode == "character":
        from text_recognizer.character_predictor import CharacterPredictor

        return CharacterPredictor(network=network)
    if mode == "line":
        from text_recognizer.line_predictor import LinePredictor, best_shipped_dataset

        return LinePredictor(best_shipped_dataset())
    if mode == "paragraph":
        from text_recognizer.paragraph_text_recognizer import ParagraphTextRecognizer

        return ParagraphTextRecognizer()
    raise ValueError(f"Unknown mode {mode!r}; choose one of {', '.join(MODES)}")
