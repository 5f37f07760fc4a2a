"""A Keras callback that samples GPU utilization while training and logs each epoch's mean and maximum.

The values land in the epoch's `logs` as `gpu_utilization_mean` and `gpu_utilization_max` (percent), so the
callbacks after it (Weights & Biases, History) record them. Without a GPU to watch it does nothing.

    >>> from training.gpu_util_sampler import GPUUtilizationSampler
    >>> model.fit(x, y, epochs=2, callbacks=[GPUUtilizationSampler(gpus=[0]), WandbMetricsLogger()])
"""

import os
import threading
from collections.abc import Callable, Sequence

import keras

from training.gpu_manager import GPUReading, read_gpus


def visible_gpus(readings: list[GPUReading]) -> list[int]:
    """Indices of the GPUs that `CUDA_VISIBLE_DEVICES` leaves to this process (all of them when it is unset)."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is None:
        return [reading.index for reading in readings]
    # Numeric entries only: the GPU manager and run_experiment set indices, not UUIDs.
    return [int(entry) for entry in visible.split(",") if entry.strip().isdigit()]


class GPUUtilizationSampler(keras.callbacks.Callback):
    """Reads GPU utilization every `interval_s` seconds in a background thread during training.

    Args:
        gpus: indices of the GPUs to watch (each sample is their mean); None watches the visible ones.
        interval_s: seconds between samples.
        read_fn: returns the current GPU readings.
    """

    def __init__(
        self,
        gpus: Sequence[int] | None = None,
        interval_s: float = 1.0,
        read_fn: Callable[[], list[GPUReading]] = read_gpus,
    ):
        super().__init__()
        self.gpus = gpus
        self.interval_s = interval_s
        self.read_fn = read_fn
        self._watched: set[int] = set()
        self._samples: list[float] = []
        self._samples_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def on_train_begin(self, logs: dict | None = None) -> None:
        self._watched = set(visible_gpus(self.read_fn()) if self.gpus is None else self.gpus)
        if not self._watched:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._sample_until_stopped, name="gpu-util-sampler", daemon=True)
        self._thread.start()

    def _mean_utilization(self) -> float | None:
        utilizations = [r.utilization_pct for r in self.read_fn() if r.index in self._watched]
        return sum(utilizations) / len(utilizations) if utilizations else None

    def _sample_until_stopped(self) -> None:
        while True:
            utilization = self._mean_utilization()
            if utilization is not None:
                with self._samples_lock:
                    self._samples.append(utilization)
            if self._stop.wait(self.interval_s):
                return

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        with self._samples_lock:
            self._samples = []

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if self._thread is None or logs is None:
            return
        with self._samples_lock:
            samples, self._samples = self._samples, []
        if not samples and (utilization := self._mean_utilization()) is not None:
            # An epoch shorter than the interval still gets a value, so the logged series has no gaps.
            samples = [utilization]
        if samples:
            logs["gpu_utilization_mean"] = sum(samples) / len(samples)
            logs["gpu_utilization_max"] = max(samples)

    def on_train_end(self, logs: dict | None = None) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None
