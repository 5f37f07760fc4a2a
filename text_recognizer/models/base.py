"""The model wrapper: a network plus the data formatting, loss, metrics and weights I/O it is trained with.

>>> from text_recognizer.models.base import load_shipped_model
>>> model = load_shipped_model("CharacterModel_EmnistDataset_lenet")   # builds from the shipped config
"""

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras
import numpy as np

from text_recognizer.datasets.dataset_sequence import BatchFn, DatasetSequence
from text_recognizer.util import atomic_path, write_json

WEIGHTS_DIRNAME = Path(__file__).resolve().parents[1] / "weights"


class Model:
    """A network built for a data set's input shape and classes, for training, evaluation and export.

    Constructing a model does not load the data set. Prediction runs on the exported artifact, not on this.
    """

    batch_augment_fn: BatchFn | None = None
    batch_format_fn: BatchFn | None = None

    def __init__(
        self,
        dataset_cls: type,
        network_fn: Callable[..., keras.Model],
        dataset_args: dict[str, Any] | None = None,
        network_args: dict[str, Any] | None = None,
    ):
        self.name = f"{type(self).__name__}_{dataset_cls.__name__}_{network_fn.__name__}"
        self.data = dataset_cls(**(dataset_args or {}))
        self.network = network_fn(self.data.input_shape, self.data.num_classes, **(network_args or {}))
        # Data sets that know how their examples vary distort the training batches themselves.
        self.batch_augment_fn = getattr(self.data, "augment_batch", None)

    @property
    def weights_filename(self) -> Path:
        return WEIGHTS_DIRNAME / f"{self.name}.weights.h5"

    def fit(
        self,
        dataset: Any,
        batch_size: int = 32,
        epochs: int = 10,
        learning_rate: float = 1e-3,
        validation_fraction: float = 0.1,
        callbacks: list[keras.callbacks.Callback] | None = None,
        seed: int = 0,
    ) -> keras.callbacks.History:
        """Train on `dataset.x_train`, validating on the data set's own validation split (`x_val`) if it has one, else
        on the last `validation_fraction` of `x_train` (0: no validation); `seed` orders the training batches."""
        self.network.compile(loss=self.loss(), optimizer=self.optimizer(learning_rate), metrics=self.metrics())
        own_validation = validation_fraction and len(getattr(dataset, "x_val", ()))
        num_val = 0 if own_validation else int(len(dataset.x_train) * validation_fraction)
        x_train, y_train = dataset.x_train, dataset.y_train
        split = len(x_train) - num_val
        train = DatasetSequence(
            x_train[:split],
            y_train[:split],
            batch_size,
            augment_fn=self.batch_augment_fn,
            format_fn=self.batch_format_fn,
            shuffle=True,
            seed=seed,
        )
        validation = None
        if own_validation or num_val:
            x_val, y_val = (dataset.x_val, dataset.y_val) if own_validation else (x_train[split:], y_train[split:])
            validation = DatasetSequence(x_val, y_val, batch_size, format_fn=self.batch_format_fn)
        return self.network.fit(train, validation_data=validation, epochs=epochs, callbacks=callbacks)

    def seed_augmentation(self, seed: int) -> None:
        """Restart the random streams that distort training batches (the data set's; subclasses add their own)."""
        if hasattr(self.data, "seed_augmentation"):
            self.data.seed_augmentation(seed)

    def evaluate(self, x: np.ndarray, y: np.ndarray, batch_size: int = 256) -> dict[str, float]:
        """Metrics of the model on (x, y): the key ones (characters: `accuracy`; lines: `cer`, `line_accuracy`)."""
        raise NotImplementedError

    def contract(self) -> dict[str, Any]:
        """What the network takes and gives, as plain data for its artifact (see `Dataset.contract`)."""
        return self.data.contract()

    def loss(self) -> Any:
        return "sparse_categorical_crossentropy"

    def optimizer(self, learning_rate: float) -> keras.optimizers.Optimizer:
        return keras.optimizers.Adam(learning_rate)

    def metrics(self) -> list[Any]:
        return ["accuracy"]

    def load_weights(self, path: Path | None = None) -> None:
        self.network.load_weights(path or self.weights_filename)

    def save_weights(self, path: Path | None = None, info: dict[str, Any] | None = None) -> Path:
        """Write the weights, and `info` (config, command, metrics) as JSON beside them; each atomically."""
        path = Path(path or self.weights_filename)
        with atomic_path(path) as partial:
            self.network.save_weights(partial)
        if info is not None:
            write_json(path.with_name(path.name.removesuffix(".weights.h5") + ".json"), info)
        return path


def build_model(config: dict[str, Any]) -> Model:
    """The model an experiment config describes: `dataset`, `model`, `network` names and their `*_args`.

    `model_args` are the model class's own (how a `LineModelCtc` decodes, say).
    """
    # Imported here because these packages import this module.
    from text_recognizer import datasets, models, networks

    def lookup(module: Any, kind: str) -> Any:
        name = config.get(kind)
        if not isinstance(name, str) or not hasattr(module, name):
            raise ValueError(f"Unknown {kind} {name!r}; choose one of {sorted(module.__all__)}")
        return getattr(module, name)

    model_cls = lookup(models, "model")
    dataset_cls, network_fn = lookup(datasets, "dataset"), lookup(networks, "network")
    try:
        return model_cls(
            dataset_cls=dataset_cls,
            network_fn=network_fn,
            dataset_args=config.get("dataset_args"),
            network_args=config.get("network_args"),
            **(config.get("model_args") or {}),
        )
    except TypeError as e:  # an argument the model, data set or network does not take
        raise ValueError(f"Bad experiment config: {e}") from e


def load_shipped_model(name: str) -> Model:
    """The model `weights/<name>.weights.h5` holds, built from the config saved beside it."""
    info_path = WEIGHTS_DIRNAME / f"{name}.json"
    if not info_path.exists():
        raise FileNotFoundError(f"No shipped model {name!r}: {info_path} is missing")
    model = build_model(json.loads(info_path.read_text())["config"])
    model.load_weights()
    return model
