"""Can each model memorise one small batch? A quick check that loss, labels and decoding fit together."""

import keras
import numpy as np
import pytest

from text_recognizer.datasets.iam_paragraphs_dataset import line_label_map
from text_recognizer.metrics import character_error_rate
from text_recognizer.models.base import build_model
from text_recognizer.models.line_detector_model import LineDetectorModel
from text_recognizer.models.line_model import LineModel

LINES = {"dataset": "EmnistLinesDataset", "dataset_args": {"max_length": 8, "num_train": 8, "num_test": 0}}


@pytest.mark.parametrize(
    ("model", "network", "network_args", "steps"),
    [
        ("LineModel", "line_cnn_all_conv", {"conv_filters": [8, 16], "window_filters": 64, "dropout_amount": 0}, 100),
        (
            "LineModelCtc",
            "line_lstm_ctc",
            {"conv_filters": [8, 16, 32], "dense_size": 64, "lstm_size": 64, "dropout_amount": 0},
            250,
        ),
    ],
)
def test_line_model_overfits_one_batch(model: str, network: str, network_args: dict, steps: int) -> None:
    keras.utils.set_random_seed(0)
    line_model = build_model({**LINES, "model": model, "network": network, "network_args": network_args})
    assert isinstance(line_model, LineModel)
    line_model.data.load_or_generate_data()
    x, y = line_model.data.x_train, line_model.data.y_train
    line_model.network.compile(loss=line_model.loss(), optimizer=line_model.optimizer(1e-2))
    losses = [float(np.mean(line_model.network.train_on_batch(x, y))) for _ in range(steps)]
    assert losses[-1] < 0.1 * losses[0], losses[::10]
    # Training mode: a few dozen steps leave batch-norm's moving averages far behind the weights.
    sequences, _ = line_model.decode(np.asarray(line_model.network(x, training=True)))
    predictions = [line_model.labels_to_text(labels) for labels in sequences]
    targets = [line_model.labels_to_text(labels) for labels in y]
    assert character_error_rate(predictions, targets) < 0.1, list(zip(predictions, targets, strict=True))


def test_line_detector_overfits_one_batch() -> None:
    """A tiny fcn learns to label the lines of four synthetic 64x64 paragraphs, odd and even apart."""
    keras.utils.set_random_seed(0)
    detector = build_model(
        {
            "dataset": "IamParagraphsDataset",
            "dataset_args": {"image_size": 64, "augment": False},
            "model": "LineDetectorModel",
            "network": "fcn",
            "network_args": {"filters": 16, "strides": 2, "dilations": [1, 2, 4, 8]},
        }
    )
    assert isinstance(detector, LineDetectorModel)
    rng = np.random.default_rng(0)
    x, y = np.zeros((4, 64, 64), np.uint8), np.zeros((4, 64, 64), np.uint8)
    for i, (num_lines, spacing) in enumerate([(3, 16), (4, 13), (5, 11), (6, 9)]):
        boxes = [(4, 4 + k * spacing, int(rng.integers(30, 56)), spacing - 2) for k in range(num_lines)]
        y[i] = line_label_map(boxes, 1.0, 64)
        x[i] = (y[i] > 0) * rng.integers(0, 256, (64, 64)) * (rng.random((64, 64)) < 0.3)  # ink specks on the lines
    detector.network.compile(loss=detector.loss(), optimizer=detector.optimizer(1e-2))
    losses = [float(np.mean(detector.network.train_on_batch(x, y))) for _ in range(150)]
    assert losses[-1] < 0.1 * losses[0], losses[::10]
    predicted = np.asarray(detector.network(x, training=True)).argmax(axis=-1)
    assert (predicted == y).mean() > 0.95
    assert detector.predict_maps(x).shape == (4, 64, 64, 3)
    assert set(detector.evaluate(x, y)) == {"pixel_accuracy", "mean_iou"}
