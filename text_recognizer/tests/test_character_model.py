"""CharacterModel trains: each network can overfit one batch of real EMNIST images."""

import numpy as np
import pytest

from text_recognizer.datasets import EmnistDataset
from text_recognizer.models import CharacterModel
from text_recognizer.networks import lenet, mlp


@pytest.mark.parametrize("network_fn", [mlp, lenet])
def test_overfits_one_batch(network_fn) -> None:
    model = CharacterModel(EmnistDataset, network_fn, network_args={"dropout_amount": 0.0})
    data = model.data
    data.load_or_generate_data()
    x, y = data.x_train[:32], data.y_train[:32]
    model.network.compile(loss=model.loss(), optimizer=model.optimizer(3e-3), metrics=model.metrics())
    history = model.network.fit(x, y, batch_size=32, epochs=60, verbose=0).history
    # Judged in training mode: BatchNorm's moving statistics need far more than 60 steps to settle.
    assert history["loss"][-1] < history["loss"][0] / 10
    assert history["accuracy"][-1] == 1.0


def test_training_batches_are_jittered_but_labels_kept() -> None:
    model = CharacterModel(EmnistDataset, mlp)
    x = np.zeros((4, 28, 28), np.uint8)
    x[:, 10:18, 10:18] = 255
    y = np.arange(4)
    assert model.batch_augment_fn is not None
    x_aug, y_aug = model.batch_augment_fn(x, y)
    assert x_aug.shape == x.shape and x_aug.dtype == np.uint8
    np.testing.assert_array_equal(y_aug, y)
    assert not np.array_equal(x_aug, x)
