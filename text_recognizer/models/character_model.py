"""Classifies one character image into the EMNIST mapping.

>>> from text_recognizer.models.base import load_shipped_model
>>> model = load_shipped_model("CharacterModel_EmnistDataset_lenet")
>>> model.evaluate(x_test, y_test)   # {"accuracy": ...}
"""

import numpy as np

from text_recognizer.datasets.augmentation import random_affine
from text_recognizer.models.base import Model


class CharacterModel(Model):
    """Softmax classification of upright 28x28 white-on-black character images, trained with jittered copies."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._rng = np.random.default_rng(0)
        self.batch_augment_fn = lambda x, y: (
            random_affine(x, self._rng, max_shift=0.05, max_rotation=5, max_scale=0.05, max_shear=0.1),
            y,
        )

    def seed_augmentation(self, seed: int) -> None:
        super().seed_augmentation(seed)
        self._rng = np.random.default_rng(seed)  # the jitter's stream (seed 0 unless set)

    def evaluate(self, x: np.ndarray, y: np.ndarray, batch_size: int = 512) -> dict[str, float]:
        """Share of framed images (the data set's format) classified right."""
        probabilities = self.network.predict(x, batch_size=batch_size, verbose=0)
        return {"accuracy": float(np.mean(probabilities.argmax(axis=1) == y))}
