"""Batches of (inputs, targets) for `keras.Model.fit`, reshuffled every epoch, optionally augmented."""

from collections.abc import Callable

import keras
import numpy as np

BatchFn = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


class DatasetSequence(keras.utils.PyDataset):
    """A `PyDataset` over in-memory arrays.

    Args:
        x, y: inputs and targets, indexed along the first axis.
        batch_size: examples per batch (the last batch may be smaller).
        augment_fn: applied to each training batch before `format_fn` (random, so training only).
        format_fn: turns a batch of stored examples into what the network takes and predicts.
        shuffle: reshuffle the order at the end of every epoch.
    """

    def __init__(
        self,
        x: np.ndarray,
        y: np.ndarray,
        batch_size: int = 32,
        augment_fn: BatchFn | None = None,
        format_fn: BatchFn | None = None,
        shuffle: bool = False,
        seed: int = 0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.x, self.y = x, y
        self.batch_size = batch_size
        self.augment_fn, self.format_fn = augment_fn, format_fn
        self.shuffle = shuffle
        self.rng = np.random.default_rng(seed)
        self.order = self.rng.permutation(len(x)) if shuffle else np.arange(len(x))

    def __len__(self) -> int:
        return int(np.ceil(len(self.x) / self.batch_size))

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        rows = np.sort(self.order[index * self.batch_size : (index + 1) * self.batch_size])
        x, y = self.x[rows], self.y[rows]
        if self.augment_fn is not None:
            x, y = self.augment_fn(x, y)
        if self.format_fn is not None:
            x, y = self.format_fn(x, y)
        return x, y

    def on_epoch_end(self) -> None:
        if self.shuffle:
            self.order = self.rng.permutation(len(self.x))
