"""Random geometric jitter for training batches: the writing varies, the label does not."""

import cv2
import numpy as np


def random_affine(
    images: np.ndarray,
    rng: np.random.Generator,
    max_shift: float = 0.1,
    max_rotation: float = 10.0,
    max_scale: float = 0.1,
    max_shear: float = 0.2,
) -> np.ndarray:
    """Each (H, W) image of the batch rotated (degrees), scaled, sheared and shifted (fraction of size) at random."""
    out = np.empty_like(images)
    height, width = images.shape[1:3]
    for i, image in enumerate(images):
        angle = rng.uniform(-max_rotation, max_rotation)
        scale = 1 + rng.uniform(-max_scale, max_scale)
        matrix = cv2.getRotationMatrix2D((width / 2, height / 2), angle, scale)
        shear = rng.uniform(-max_shear, max_shear)
        matrix[0, 1] += shear
        matrix[0, 2] += rng.uniform(-max_shift, max_shift) * width - shear * height / 2
        matrix[1, 2] += rng.uniform(-max_shift, max_shift) * height
        out[i] = cv2.warpAffine(image, matrix, (width, height), flags=cv2.INTER_LINEAR, borderValue=0)
    return out
