"""Classifies one character image into the EMNIST mapping.

    >>> from text_recognizer.models.base import load_shipped_model
    >>> model = load_shipped_model("CharacterModel_EmnistDataset_lenet")
    >>> model.predict_on_images([image])   # [(char, confidence)]
"""

import cv2
import numpy as np

from text_recognizer.datasets.augmentation import random_affine
from text_recognizer.models.base import Model
from text_recognizer.util import ink_on_black


class CharacterModel(Model):
    """Softmax classification of upright 28x28 white-on-black character images, trained with jittered copies."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        rng = np.random.default_rng(0)
        self.batch_augment_fn = lambda x, y: (
            random_affine(x, rng, max_shift=0.05, max_rotation=5, max_scale=0.05, max_shear=0.1),
            y,
        )

    def prepare_image(self, image: np.ndarray) -> np.ndarray:
        """Greyscale uint8 image to the network's input: white ink on black, framed as EMNIST frames characters.

        Images already of the input shape are taken as EMNIST-like and passed through unchanged.
        """
        height, width = self.data.input_shape[:2]
        image = ink_on_black(image)
        if image.shape == (height, width):
            return image
        # As EMNIST was made: crop to the ink, centre it in a square with a small margin, then downsample.
        rows, cols = np.nonzero(image > image.max() / 4)
        if len(rows):
            image = image[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
        side = int(max(image.shape) * 1.15) + 2
        top, left = (side - image.shape[0]) // 2, (side - image.shape[1]) // 2
        image = cv2.copyMakeBorder(
            image, top, side - image.shape[0] - top, left, side - image.shape[1] - left, cv2.BORDER_CONSTANT, value=0
        )
        return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)

    def predict_on_images(self, images: list[np.ndarray], batch_size: int = 512) -> list[tuple[str, float]]:
        """(character, confidence) for each greyscale image."""
        batch = np.stack([self.prepare_image(image) for image in images])
        probabilities = np.concatenate(
            [
                np.asarray(self.network(batch[i : i + batch_size], training=False))
                for i in range(0, len(batch), batch_size)
            ]
        )
        labels = probabilities.argmax(axis=1)
        return [(self.data.mapping[label], float(p[label])) for label, p in zip(labels, probabilities, strict=True)]

    def evaluate(self, x: np.ndarray, y: np.ndarray, batch_size: int = 512) -> dict[str, float]:
        predictions = [self.data.inverse_mapping[char] for char, _ in self.predict_on_images(list(x), batch_size)]
        return {"accuracy": float(np.mean(np.asarray(predictions) == y))}
