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


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    """Counts of (true class, predicted class) over all pixels."""
    counts = np.bincount(num_classes * y_true.astype(np.int64).ravel() + y_pred.ravel(), minlength=num_classes**2)
    return counts.reshape(num_classes, num_classes)


class LineDetectorModel(Model):
    """A fully convolutional network labelling each pixel of a square paragraph image (see IamParagraphsDataset).

    Trained with pixel-wise cross-entropy, unweighted: background is about two thirds of the pixels, so the line classes
    are not rare enough to need weights. Training batches are distorted by the data set (`augment_batch`).
    """

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
