"""Timing helpers shared by the benchmark scripts."""

import resource
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # training imports Keras: prediction, timed first, runs without it
    from text_recognizer.models.base import Model


def latency_percentiles_ms(predict: Callable[[Any], Any], inputs: Sequence[Any], warmup: int = 5) -> dict[str, float]:
    """p50 and p99 milliseconds of `predict` on each input, after `warmup` calls (tracing is not latency)."""
    for item in inputs[:warmup]:
        predict(item)
    latencies = []
    for item in inputs:
        start = time.perf_counter()
        predict(item)
        latencies.append((time.perf_counter() - start) * 1000)
    p50, p99 = np.percentile(latencies, [50, 99])
    return {"predict_p50_ms": float(p50), "predict_p99_ms": float(p99)}


def train_examples_per_s(model: "Model", x: np.ndarray, y: np.ndarray, batch_size: int, batches: int) -> float:
    """Examples/s of train steps (augmentation and formatting included) on consecutive batches of (x, y).

    Changes the weights in memory only, never the shipped file: call it after any prediction timing.
    """
    from text_recognizer.datasets.dataset_sequence import DatasetSequence

    model.network.compile(loss=model.loss(), optimizer=model.optimizer(1e-3), metrics=model.metrics())
    # The batches training makes, augmentation and formatting included.
    batches_of = DatasetSequence(x, y, batch_size, augment_fn=model.batch_augment_fn, format_fn=model.batch_format_fn)

    def train_step(i: int) -> None:
        model.network.train_on_batch(*batches_of[i])

    for i in range(3):  # tracing and first-call allocation are not throughput
        train_step(i)
    start = time.perf_counter()
    for i in range(3, 3 + batches):
        train_step(i)
    return batches * batch_size / (time.perf_counter() - start)


def peak_rss_mib() -> float:
    """The most memory this process has held so far (its peak resident set), in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
