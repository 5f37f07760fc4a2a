"""Finds the handwritten lines of a paragraph: per pixel, background, an odd line or an even line.

    >>> from text_recognizer.models.base import load_shipped_model
    >>> from text_recognizer.datasets.iam_paragraphs_dataset import prepare_paragraph
    >>> model = load_shipped_model("LineDetectorModel_IamParagraphsDataset_fcn")
    >>> image, scale = prepare_paragraph(crop, model.data.image_size)   # crop: greyscale, dark ink on light paper
    >>> model.predict_maps(image[None])   # (1, size, size, 3) probabilities of background, odd line, even line
"""

import keras
import numpy as np

from text_recognizer.models.base import Model

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


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    """Counts of (true class, predicted class) over all pixels."""
    counts = np.bincount(num_classes * y_true.astype(np.int64).ravel() + y_pred.ravel(), minlength=num_classes**2)
    return counts.reshape(num_classes, num_classes)


class LineDetectorModel(Model):
    """A fully convolutional network labelling each pixel of a square paragraph image (see IamParagraphsDataset).

    Trained with pixel-wise cross-entropy, unweighted: background is about two thirds of the pixels, so the line classes
    are not rare enough to need weights. Training batches are distorted (`augment_paragraph_batch`) when the data set's
    `augment` is set.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._rng = np.random.default_rng(0)
        if getattr(self.data, "augment", False):
            self.batch_augment_fn = self.augment_batch

    def augment_batch(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return augment_paragraph_batch(x, y, self._rng, self.data.num_classes)

    def metrics(self) -> list:
        iou = keras.metrics.MeanIoU(self.data.num_classes, name="mean_iou", sparse_y_true=True, sparse_y_pred=False)
        return ["accuracy", iou]

    def predict_maps(self, images: np.ndarray, batch_size: int = 16) -> np.ndarray:
        """Class probabilities (N, S, S, 3) for prepared inputs (N, S, S) uint8 (see `prepare_paragraph`)."""
        batches = [images[i : i + batch_size] for i in range(0, len(images), batch_size)]
        if not batches:
            return np.zeros((0, *images.shape[1:3], self.data.num_classes), np.float32)
        return np.concatenate([self.network.predict_on_batch(batch) for batch in batches]).astype(np.float32)

    def evaluate(self, x: np.ndarray, y: np.ndarray, batch_size: int = 16) -> dict[str, float]:
        """Fraction of pixels labelled right, and the intersection over union per class averaged over the classes."""
        num_classes = self.data.num_classes
        counts = confusion_matrix(y, self.predict_maps(x, batch_size).argmax(axis=-1), num_classes)
        union = counts.sum(axis=0) + counts.sum(axis=1) - np.diag(counts)
        present = union > 0  # a class neither in the labels nor predicted says nothing
        iou = np.diag(counts)[present] / union[present]
        return {"pixel_accuracy": float(np.trace(counts) / max(counts.sum(), 1)), "mean_iou": float(iou.mean())}
