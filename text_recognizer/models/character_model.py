"""Classifies one character image into the EMNIST mapping.

    >>> from text_recognizer.models.base import load_shipped_model
    >>> model = load_shipped_model("CharacterModel_EmnistDataset_lenet")
    >>> model.predict_on_images([image])   # [(char, confidence)]
"""

import cv2
import numpy as np

from text_recognizer.datasets.augmentation import random_affine
from text_recognizer.models.base import Model


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
        """Greyscale uint8 image of any size to the network's input: resized, white ink on black."""
        height, width = self.data.input_shape[:2]
        # EMNIST ink is bright on a dark ground; a page scan (dark ink, bright border) is inverted to match.
        border = np.concatenate([image[0], image[-1], image[:, 0], image[:, -1]])
        if border.mean() > 127:
            image = 255 - image
        if image.shape != (height, width):
            image = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
        return image

    def predict_on_images(self, images: list[np.ndarray], batch_size: int = 512) -> list[tuple[str, float]]:
        """(character, confidence) for each greyscale image."""
        batch = np.stack([self.prepare_image(image) for image in images])
        probabilities = np.concatenate(
            [np.asarray(self.network(batch[i : i + batch_size], training=False)) for i in range(0, len(batch), batch_size)]
        )
        labels = probabilities.argmax(axis=1)
        return [(self.data.mapping[label], float(p[label])) for label, p in zip(labels, probabilities, strict=True)]

    def evaluate(self, x: np.ndarray, y: np.ndarray, batch_size: int = 512) -> dict[str, float]:
        predictions = [self.data.inverse_mapping[char] for char, _ in self.predict_on_images(list(x), batch_size)]
        return {"accuracy": float(np.mean(np.asarray(predictions) == y))}
