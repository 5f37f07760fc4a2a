"""GPU utilization sampler with a fake GPU reader."""

import itertools
import time

import keras
import numpy as np
import pytest

from training.gpu_manager import GPUReading
from training.gpu_util_sampler import GPUUtilizationSampler, visible_gpus


def fake_reader():
    """GPU 0 alternates between 10% and 50% busy; GPU 1, not watched, is always at 100%."""
    cycle = itertools.cycle([10.0, 50.0])
    return lambda: [GPUReading(0, 0, 16_000, next(cycle)), GPUReading(1, 0, 16_000, 100.0)]


def test_epoch_logs_get_mean_and_max_of_the_watched_gpu() -> None:
    sampler = GPUUtilizationSampler(gpus=[0], interval_s=0.01, read_fn=fake_reader())
    sampler.on_train_begin()
    sampler.on_epoch_begin(0)
    time.sleep(0.3)
    logs: dict[str, float] = {"loss": 1.0}
    sampler.on_epoch_end(0, logs)
    sampler.on_train_end()
    assert logs["gpu_utilization_max"] == 50.0
    assert 10.0 <= logs["gpu_utilization_mean"] <= 50.0
    assert logs["loss"] == 1.0


def test_a_short_epoch_still_gets_a_value() -> None:
    sampler = GPUUtilizationSampler(gpus=[1], interval_s=60, read_fn=fake_reader())
    sampler.on_train_begin()
    sampler.on_epoch_begin(0)  # drops the sample taken at the start of training
    logs: dict[str, float] = {}
    sampler.on_epoch_end(0, logs)
    sampler.on_train_end()
    assert logs == {"gpu_utilization_mean": 100.0, "gpu_utilization_max": 100.0}


@pytest.mark.parametrize("gpus", [[], None])
def test_without_a_gpu_it_does_nothing(gpus: list[int] | None) -> None:
    sampler = GPUUtilizationSampler(gpus=gpus, interval_s=0.01, read_fn=lambda: [])
    sampler.on_train_begin()
    sampler.on_epoch_begin(0)
    logs = {"loss": 1.0}
    sampler.on_epoch_end(0, logs)
    sampler.on_train_end()
    assert sampler._thread is None and logs == {"loss": 1.0}


def test_visible_gpus_follow_cuda_visible_devices(monkeypatch: pytest.MonkeyPatch) -> None:
    readings = fake_reader()()
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    assert visible_gpus(readings) == [0, 1]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1")
    assert visible_gpus(readings) == [1]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert visible_gpus(readings) == []


def test_fit_history_records_utilization() -> None:
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(loss="mse", optimizer="sgd")
    x, y = np.zeros((32, 4), "float32"), np.zeros((32, 1), "float32")
    sampler = GPUUtilizationSampler(gpus=[0], interval_s=0.01, read_fn=fake_reader())
    history = model.fit(x, y, epochs=2, verbose=0, callbacks=[sampler])
    assert len(history.history["gpu_utilization_mean"]) == 2
    assert set(history.history["gpu_utilization_max"]) <= {10.0, 50.0}
    assert sampler._thread is None
