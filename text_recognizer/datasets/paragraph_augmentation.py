"""Random distortions of paragraph images and their line label maps for training the line detector.

    >>> from text_recognizer.datasets import IamParagraphsDataset
    >>> data = IamParagraphsDataset()
    >>> data.load_or_generate_data()
    >>> x, y = augment_paragraph_batch(data.x_train[:8], data.y_train[:8], np.random.default_rng(0))

`IamParagraphsDataset.augment_batch` applies it to every training batch of a line detector.
"""

import keras
import numpy as np

# Ranges of the random training distortions. The paragraph always starts at the top-left corner of an input, and the
# detector counts lines from there to tell odd from even, so shifts are mostly down/right and scaling is about that
# corner: the first line stays in view.
MAX_ROTATION_DEGREES = 2.0
MAX_SHEAR = 0.15  # horizontal: slanted writing
SCALE_RANGE = (0.8, 1.1)
SHIFT_RANGE = (-0.01, 0.06)  # fractions of the side
INK_GAIN_RANGE = (0.6, 1.3)  # contrast: how bright the ink is
GAMMA_RANGE = (0.7, 1.4)  # brightness of faint strokes against strong ones


def _affine(size: int, rng: np.random.Generator) -> np.ndarray:
    """A random output-to-input point mapping (the 8 numbers `keras.ops.image.affine_transform` takes)."""
    angle = np.deg2rad(rng.uniform(-MAX_ROTATION_DEGREES, MAX_ROTATION_DEGREES))
    centre = size / 2
    to_centre = np.array([[1, 0, -centre], [0, 1, -centre], [0, 0, 1]])
    rotate = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]])
    rotate = np.linalg.inv(to_centre) @ rotate @ to_centre
    shear = np.array([[1, rng.uniform(-MAX_SHEAR, MAX_SHEAR), 0], [0, 1, 0], [0, 0, 1]])
    scale = np.diag([*[rng.uniform(*SCALE_RANGE)] * 2, 1])
    shift = np.eye(3)
    shift[:2, 2] = rng.uniform(*SHIFT_RANGE, size=2) * size
    forward = shift @ rotate @ scale @ shear  # input point to output point
    return np.linalg.inv(forward).ravel()[:8]


def augment_paragraph_batch(
    x: np.ndarray, y: np.ndarray, rng: np.random.Generator, num_classes: int = 3
) -> tuple[np.ndarray, np.ndarray]:
    """Randomly distorted copies of paragraph images (N, S, S) uint8 and their label maps (N, S, S).

    One affine transform per example (rotation, shear, scaling, shift) moves image and labels alike: they are warped
    together as channels, the labels one-hot so that bilinear interpolation cannot invent a class between two others
    (the label is the argmax; outside the image all channels are 0, i.e. background). Ink gain and gamma change the
    image only.
    """
    size = x.shape[1]
    stack = np.concatenate([x[..., None].astype(np.float32), np.eye(num_classes, dtype=np.float32)[y]], axis=-1)
    transforms = np.stack([_affine(size, rng) for _ in range(len(x))]).astype(np.float32)
    warped = keras.ops.convert_to_numpy(keras.ops.image.affine_transform(stack, transforms, fill_mode="constant"))
    gain = rng.uniform(*INK_GAIN_RANGE, size=(len(x), 1, 1))
    gamma = rng.uniform(*GAMMA_RANGE, size=(len(x), 1, 1))
    image = np.clip(gain * 255 * (np.clip(warped[..., 0], 0, 255) / 255) ** gamma, 0, 255)
    return image.round().astype(np.uint8), warped[..., 1:].argmax(axis=-1).astype(y.dtype)
