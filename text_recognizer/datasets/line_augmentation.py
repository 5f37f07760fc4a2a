"""Random distortions of handwritten line images for training: the writing varies, the text does not.

    >>> from text_recognizer.datasets import IamLinesDataset
    >>> data = IamLinesDataset()
    >>> data.load_or_generate_data()
    >>> rng = np.random.default_rng(0)
    >>> x, y = augment_line_batch(data.x_train[:32], data.y_train[:32], rng)

`IamLinesDataset.augment_batch` applies it to every training batch of a line model.

Images are uint8 (height, width), white ink on black, the writing starting at the left and padded with black on the
right (as `IamLinesDataset` makes them); the writing stays within the image.
"""

import cv2
import numpy as np


def augment_line(
    image: np.ndarray,
    rng: np.random.Generator,
    max_rotation: float = 1.0,
    max_shear: float = 0.4,
    scale_range: tuple[float, float] = (0.8, 1.05),
    max_stretch: float = 0.2,
) -> np.ndarray:
    """One line image slanted, rotated (degrees), scaled, stretched, thinned or thickened, dimmed and noised."""
    height, width = image.shape
    ink_columns = np.flatnonzero(image.max(axis=0))
    used_width = int(ink_columns[-1]) + 1 if len(ink_columns) else width
    scale = rng.uniform(*scale_range)
    stretch = scale * (1 + rng.uniform(-max_stretch, max_stretch))
    angle = np.deg2rad(rng.uniform(-max_rotation, max_rotation))
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    linear = rotation @ np.array([[stretch, rng.uniform(-max_shear, max_shear)], [0, scale]])
    # Transform about the middle of the writing, then move it back to the left edge, squeezing it if it got too wide.
    center = np.array([used_width / 2, height / 2])
    corners = np.array([[0, 0], [used_width, 0], [0, height], [used_width, height]]) - center
    moved = corners @ linear.T
    extent = moved[:, 0].max() - moved[:, 0].min()
    if extent > width - 1:
        linear = np.diag([(width - 1) / extent, 1]) @ linear
        moved = corners @ linear.T
        extent = width - 1
    left = rng.uniform(0, min(8, width - 1 - extent))
    shift = np.array([left - moved[:, 0].min(), height / 2 + rng.uniform(-0.05, 0.05) * height])
    matrix = np.hstack([linear, (shift - linear @ center)[:, None]])
    out = cv2.warpAffine(image, matrix, (width, height), flags=cv2.INTER_LINEAR, borderValue=0)
    # Pen width: a pixel thinner or thicker a third of the time each (a 2x2 kernel is about one pixel at 64 high).
    pen = rng.integers(3)
    if pen:
        kernel = np.ones((2, 2), np.uint8)
        out = cv2.erode(out, kernel) if pen == 1 else cv2.dilate(out, kernel)
    # Paper not quite black, ink not quite white, and some sensor noise.
    paper, ink = rng.uniform(0, 40), rng.uniform(160, 255)
    noisy = paper + out * ((ink - paper) / 255) + rng.normal(0, rng.uniform(0, 8), out.shape)
    return np.clip(noisy, 0, 255).astype(np.uint8)


def augment_line_batch(x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Each line image of the batch `x` (N, height, width) distorted at random; the targets `y` unchanged."""
    return np.stack([augment_line(image, rng) for image in x]), y
