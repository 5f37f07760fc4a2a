"""Random windows of whole pages and their label maps, distorted as real scans and photos vary, to train a detector.

    >>> from text_recognizer.datasets import IamPagesDataset
    >>> data = IamPagesDataset()
    >>> data.load_or_generate_data()
    >>> x, y = augment_page_batch(data.x_train[:8], data.y_train[:8], np.random.default_rng(0), (512, 384))

`IamPagesDataset.augment_batch` applies it to every training batch. One homography per example (scale about the data
set's fixed one, rotation, perspective, placement) maps page to window, for the image (bilinear) and the labels
(nearest) alike; light, blur, JPEG and noise then change the image only. Images are white ink on black (prepared).
"""

import cv2
import numpy as np

SCALE_RANGE = (0.5, 2.0)  # around the prepared page's scale, drawn log-uniformly
MAX_ROTATION_DEGREES = 5.0
MAX_PERSPECTIVE = 0.04  # corner displacement, as a fraction of the window side
# The handwriting's first line is placed this far down the window (fractions of its height): the detector tells odd
# from even lines by counting from the first one, so that line must be in view.
FIRST_LINE_RANGE = (0.02, 0.5)
MAX_MARGIN = 0.15  # paper beyond the page's edges that a window may show, as a fraction of its side
# This share of the windows is scaled down far enough to show everything from the first handwritten line to the page's
# foot: at the usual scales a window rarely reaches below the text, where a form has its "Name:" line and signature,
# which are no lines of the text; without seeing them there the detector read the signature as one more line.
WHOLE_TEXT_PROBABILITY = 0.3
PAPER_RANGE = (0.0, 60.0)  # uneven light: a brightness gradient added to the paper (ink on black: 0 is paper)
INK_GAIN_RANGE = (0.5, 1.2)
BLUR_SIGMA_RANGE = (0.0, 1.2)
JPEG_QUALITY_RANGE = (25, 95)
NOISE_SIGMA_RANGE = (0.0, 12.0)


def _homography(
    page_shape: tuple[int, int], first_line: int, window: tuple[int, int], rng: np.random.Generator
) -> np.ndarray:
    """A page-to-window 3x3 mapping: scaled, rotated about the page centre, placed, then perspective-distorted."""
    height, width = page_shape
    win_h, win_w = window
    low, high = SCALE_RANGE
    whole_text = rng.random() < WHOLE_TEXT_PROBABILITY
    if whole_text:  # from the first line to the foot in view: a scale no larger than fits it
        high = min(high, max(low, (1 - FIRST_LINE_RANGE[0]) * win_h / max(height - first_line, 1)))
    scale = float(np.exp(rng.uniform(np.log(low), np.log(high))))
    angle = np.deg2rad(rng.uniform(-MAX_ROTATION_DEGREES, MAX_ROTATION_DEGREES))
    cx, cy = width * scale / 2, height * scale / 2
    rotate = cv2.getRotationMatrix2D((cx, cy), np.rad2deg(angle), 1.0)
    forward = np.vstack([rotate, [0, 0, 1]]) @ np.diag([scale, scale, 1.0])
    # Where the first handwritten line lands (rotation moves it little), and the window's corner in scaled pixels.
    scaled_h, scaled_w = height * scale, width * scale
    if scaled_h + 2 * MAX_MARGIN * win_h <= win_h:
        top = -rng.uniform(0, win_h - scaled_h)  # the whole page fits: it sits somewhere in the window
    elif whole_text:  # the first line near the top, so that the foot stays in view
        room = max(FIRST_LINE_RANGE[0], 1 - (height - first_line) * scale / win_h)
        top = first_line * scale - rng.uniform(FIRST_LINE_RANGE[0], room) * win_h
    else:
        top = first_line * scale - rng.uniform(*FIRST_LINE_RANGE) * win_h
        top = float(np.clip(top, -MAX_MARGIN * win_h, max(scaled_h - win_h * 0.5, -MAX_MARGIN * win_h)))
    if scaled_w <= win_w:
        left = -rng.uniform(0, win_w - scaled_w)
    else:
        left = rng.uniform(-MAX_MARGIN * win_w, scaled_w - (1 - MAX_MARGIN) * win_w)
    shift = np.array([[1, 0, -left], [0, 1, -top], [0, 0, 1]])
    corners = np.array([[0, 0], [win_w, 0], [win_w, win_h], [0, win_h]], np.float32)
    moved = corners + rng.uniform(-MAX_PERSPECTIVE, MAX_PERSPECTIVE, (4, 2)).astype(np.float32) * [win_w, win_h]
    perspective = cv2.getPerspectiveTransform(corners, moved.astype(np.float32))
    return perspective @ shift @ forward


def _photometric(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Uneven light, ink strength, blur, JPEG and sensor noise on a white-on-black window."""
    win_h, win_w = image.shape
    ramp_y, ramp_x = np.mgrid[0:win_h, 0:win_w].astype(np.float32)
    direction = rng.normal(size=2)
    ramp = direction[0] * ramp_y / win_h + direction[1] * ramp_x / win_w
    ramp = (ramp - ramp.min()) / max(float(ramp.max() - ramp.min()), 1e-6)
    paper = rng.uniform(*PAPER_RANGE) * ramp
    out = image.astype(np.float32) * rng.uniform(*INK_GAIN_RANGE)
    out = np.maximum(out, paper)  # ink stays brighter than the light on the paper around it
    sigma = rng.uniform(*BLUR_SIGMA_RANGE)
    if sigma > 0.3:
        out = cv2.GaussianBlur(out, (0, 0), sigma)
    if rng.random() < 0.5:
        encoded = cv2.imencode(".jpg", np.clip(out, 0, 255).astype(np.uint8),
                               [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(*JPEG_QUALITY_RANGE))])[1]  # fmt: skip
        out = np.asarray(cv2.imdecode(encoded, cv2.IMREAD_GRAYSCALE), np.float32)
    out += rng.normal(0, rng.uniform(*NOISE_SIGMA_RANGE), out.shape).astype(np.float32)
    return np.clip(out, 0, 255).round().astype(np.uint8)


def augment_page_batch(
    x: np.ndarray, y: np.ndarray, rng: np.random.Generator, window: tuple[int, int], distort: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """`window`-sized (height, width) cuts of prepared pages (N, H, W) uint8 and of their label maps (N, H, W).

    With `distort`, each window is warped and its image photometrically changed; without, it is a plain cut placed
    as the warped ones are (the first handwritten line in view).
    """
    win_h, win_w = window
    images = np.zeros((len(x), win_h, win_w), np.uint8)
    labels = np.zeros((len(x), win_h, win_w), y.dtype)
    for i, (image, label_map) in enumerate(zip(x, y, strict=True)):
        rows = np.flatnonzero(((label_map == 1) | (label_map == 2)).any(axis=1))
        first_line = int(rows[0]) if len(rows) else 0
        if distort:
            matrix = _homography((image.shape[0], image.shape[1]), first_line, window, rng)
        else:
            top = max(0, min(first_line - int(FIRST_LINE_RANGE[1] * win_h / 2), image.shape[0] - win_h))
            left = int(rng.integers(0, max(1, image.shape[1] - win_w + 1)))
            matrix = np.array([[1, 0, -left], [0, 1, -top], [0, 0, 1]], np.float64)
        images[i] = cv2.warpPerspective(image, matrix, (win_w, win_h), flags=cv2.INTER_LINEAR, borderValue=0)
        labels[i] = cv2.warpPerspective(label_map, matrix, (win_w, win_h), flags=cv2.INTER_NEAREST, borderValue=0)
        if distort:
            images[i] = _photometric(images[i], rng)
    return images, labels
