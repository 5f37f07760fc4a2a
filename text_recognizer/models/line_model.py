"""Reads a line of handwriting as one character per fixed-width cell (the all-convolutional baseline).

    >>> from text_recognizer.models.base import load_shipped_model
    >>> model = load_shipped_model("LineModel_EmnistLinesDataset_line_cnn_all_conv")
    >>> model.predict_on_images([image])   # [(text, confidence)]
"""

import math

import cv2
import numpy as np

from text_recognizer.metrics import character_error_rate, line_accuracy, word_error_rate
from text_recognizer.models.base import Model
from text_recognizer.util import ink_on_black

# How many times the training width a variable-width network may be given.
MAX_WIDTH_FACTOR = 8


class LineModel(Model):
    """A network over line images `data.input_shape` high and wide, giving a softmax per output position.

    The data set provides `mapping`, `padding_label` and `input_shape`; its targets are label sequences padded with
    `padding_label`. Subclasses change how outputs become labels (`decode`) and which widths the network takes.
    """

    #: The network reads any width: images are padded up to the training width, cropped only far beyond it.
    variable_width = False

    def prepare_image(self, image: np.ndarray) -> np.ndarray:
        """Greyscale uint8 line image to network input: white ink on black, data set height, padded or cropped.

        A data set that prepares its own lines (`prepare_line`, as for IAM's real pages) does it exactly as it did for
        the training images.
        """
        if hasattr(self.data, "prepare_line"):
            return self.data.prepare_line(image)[0]
        height, width = self.data.input_shape[:2]
        image = ink_on_black(image)
        max_width = width * (MAX_WIDTH_FACTOR if self.variable_width else 1)
        if image.shape[0] != height:
            scale = height / image.shape[0]
            # Cropped first, as a sliver a few pixels high would scale up to a line long enough to exhaust memory.
            image = image[:, : math.ceil(max_width / scale)]
            image = cv2.resize(
                image,
                (max(1, round(image.shape[1] * scale)), height),
                interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR,
            )
        if image.shape[1] < width:
            image = np.pad(image, ((0, 0), (0, width - image.shape[1])))
        return image[:, :max_width]

    def predict_on_images(self, images: list[np.ndarray], batch_size: int = 64) -> list[tuple[str, float]]:
        """(text, confidence) for each greyscale line image, of any size."""
        prepared = [self.prepare_image(image) for image in images]
        results: list[tuple[str, float]] = []
        for start in range(0, len(prepared), batch_size):
            chunk = prepared[start : start + batch_size]
            # Lines of one batch share the widest line's width, rounded up so that few shapes reach the network (each
            # new one costs a trace); the extra columns are background, as in training.
            step = self.data.input_shape[1] // 4
            width = -(-max(image.shape[1] for image in chunk) // step) * step
            batch = np.stack([np.pad(image, ((0, 0), (0, width - image.shape[1]))) for image in chunk])
            results.extend(self.predict_on_batch(batch))
        return results

    def predict_on_batch(self, batch: np.ndarray) -> list[tuple[str, float]]:
        """(text, confidence) for each line of a batch already in the network's format."""
        return self.read_outputs(self.network.predict_on_batch(batch))

    def read_outputs(self, probabilities: np.ndarray) -> list[tuple[str, float]]:
        """(text, confidence) for each line's network outputs, decoded as the model is set to decode."""
        sequences, confidences = self.decode(probabilities)
        return [(self.labels_to_text(labels), float(c)) for labels, c in zip(sequences, confidences, strict=True)]

    def decode(self, probabilities: np.ndarray) -> tuple[list[list[int]], np.ndarray]:
        """Most likely label per position, and the product of those probabilities per line."""
        return probabilities.argmax(axis=-1).tolist(), probabilities.max(axis=-1).prod(axis=-1)

    def labels_to_text(self, labels: list[int] | np.ndarray) -> str:
        """Text of a label sequence: up to the first padding, without surrounding spaces."""
        chars = [self.data.mapping[label] for label in labels]
        padding = self.data.mapping[self.data.padding_label]
        return "".join(chars).split(padding, 1)[0].strip()

    def evaluate(self, x: np.ndarray, y: np.ndarray, batch_size: int = 64) -> dict[str, float]:
        """Character and word error rates over the split, and the mean per-line accuracy (1 - that line's CER)."""
        return self.evaluate_outputs(self.network.predict(x, batch_size=batch_size, verbose=0), y, batch_size)

    def evaluate_outputs(self, probabilities: np.ndarray, y: np.ndarray, batch_size: int = 64) -> dict[str, float]:
        """`evaluate` of network outputs already computed: a decoder can be tried on them without running the network.

        They are decoded `batch_size` lines at a time, which bounds the memory the CTC confidences take.
        """
        predictions = [
            text
            for i in range(0, len(probabilities), batch_size)
            for text, _ in self.read_outputs(probabilities[i : i + batch_size])
        ]
        targets = [self.labels_to_text(labels) for labels in y]
        return {
            "cer": character_error_rate(predictions, targets),
            "wer": word_error_rate(predictions, targets),
            "line_accuracy": line_accuracy(predictions, targets),
        }
