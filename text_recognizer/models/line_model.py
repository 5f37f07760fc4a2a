"""Reads a line of handwriting as one character per fixed-width cell (the all-convolutional baseline).

    >>> from text_recognizer.models.base import load_shipped_model
    >>> model = load_shipped_model("LineModel_EmnistLinesDataset_line_cnn_all_conv")
    >>> model.predict_on_images([image])   # [(text, confidence)]
"""

import cv2
import numpy as np

from text_recognizer.metrics import character_error_rate, line_accuracy
from text_recognizer.models.base import Model


class LineModel(Model):
    """A network over line images `data.input_shape` high and wide, giving a softmax per output position.

    The data set provides `mapping`, `padding_label` and `input_shape`; its targets are label sequences padded with
    `padding_label`. Subclasses change how outputs become labels (`decode`) and which widths the network takes.
    """

    #: The network reads any width (so images are only padded up to the training width, never cropped).
    variable_width = False

    def prepare_image(self, image: np.ndarray) -> np.ndarray:
        """Greyscale uint8 line image to network input: white ink on black, data set height, padded or cropped."""
        height, width = self.data.input_shape[:2]
        border = np.concatenate([image[0], image[-1], image[:, 0], image[:, -1]])
        if border.mean() > 127:  # dark ink on a bright page: the data sets are bright ink on black
            image = 255 - image
        if image.shape[0] != height:
            scaled_width = max(1, round(image.shape[1] * height / image.shape[0]))
            shrink = image.shape[0] > height
            image = cv2.resize(
                image, (scaled_width, height), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
            )
        if image.shape[1] < width:
            image = np.pad(image, ((0, 0), (0, width - image.shape[1])))
        elif image.shape[1] > width and not self.variable_width:
            image = image[:, :width]
        return image

    def predict_on_images(self, images: list[np.ndarray], batch_size: int = 64) -> list[tuple[str, float]]:
        """(text, confidence) for each greyscale line image, of any size."""
        prepared = [self.prepare_image(image) for image in images]
        results: list[tuple[str, float]] = []
        for start in range(0, len(prepared), batch_size):
            chunk = prepared[start : start + batch_size]
            # Lines of one batch share the widest line's width; the extra columns are background, as in training.
            width = max(image.shape[1] for image in chunk)
            batch = np.stack([np.pad(image, ((0, 0), (0, width - image.shape[1]))) for image in chunk])
            results.extend(self.predict_on_batch(batch))
        return results

    def predict_on_batch(self, batch: np.ndarray) -> list[tuple[str, float]]:
        """(text, confidence) for each line of a batch already in the network's format."""
        probabilities = np.asarray(self.network(batch, training=False))
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
        """Character error rate over the split, and the mean per-line accuracy (1 - that line's error rate)."""
        predictions = [
            text for i in range(0, len(x), batch_size) for text, _ in self.predict_on_batch(x[i : i + batch_size])
        ]
        targets = [self.labels_to_text(labels) for labels in y]
        return {"cer": character_error_rate(predictions, targets), "line_accuracy": line_accuracy(predictions, targets)}
