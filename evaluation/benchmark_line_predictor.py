"""Prediction latency and throughput, and training throughput, of the shipped line predictor on this machine.

    TEXT_RECOGNIZER_DATA_MIRROR=../shared/data/raw NLTK_DATA=../shared/data/nltk_data \
        python evaluation/benchmark_line_predictor.py --dataset emnist_lines
"""

import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from evaluation.evaluate_line_predictor import load_test_lines  # noqa: E402
from text_recognizer.line_predictor import LinePredictor  # noqa: E402


def benchmark(dataset: str, batch_size: int, train_batches: int, predictions: int) -> dict[str, float]:
    """p50/p99 ms of `predict` on one line, lines/s of `predict_batch`, and lines/s of train steps."""
    predictor = LinePredictor(dataset)
    model = predictor.model
    x, y = load_test_lines(predictor, max(predictions, batch_size * (train_batches + 3)))
    images = list(x[:predictions])

    for image in images[:5]:  # tracing and first-call allocation are not latency
        predictor.predict(image)
    latencies = []
    for image in images:
        start = time.perf_counter()
        predictor.predict(image)
        latencies.append((time.perf_counter() - start) * 1000)
    predictor.predict_batch(images[:batch_size])
    start = time.perf_counter()
    for i in range(0, len(images), batch_size):
        predictor.predict_batch(images[i : i + batch_size])
    batch_lines_per_s = len(images) / (time.perf_counter() - start)

    # Last, as train steps change the weights in memory (never the shipped file).
    model.network.compile(loss=model.loss(), optimizer=model.optimizer(1e-3), metrics=model.metrics())

    def train_step(i: int) -> None:
        rows = slice(i * batch_size, (i + 1) * batch_size)
        xb, yb = model.batch_augment_fn(x[rows], y[rows]) if model.batch_augment_fn else (x[rows], y[rows])
        model.network.train_on_batch(xb, yb)

    for i in range(3):
        train_step(i)
    start = time.perf_counter()
    for i in range(3, 3 + train_batches):
        train_step(i)
    train_lines_per_s = train_batches * batch_size / (time.perf_counter() - start)
    return {
        "predict_p50_ms": float(np.percentile(latencies, 50)),
        "predict_p99_ms": float(np.percentile(latencies, 99)),
        "predict_batch_lines_per_s": batch_lines_per_s,
        "train_lines_per_s": train_lines_per_s,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="emnist_lines")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--train-batches", type=int, default=20)
    parser.add_argument("--predictions", type=int, default=300)
    args = parser.parse_args()
    for name, value in benchmark(args.dataset, args.batch_size, args.train_batches, args.predictions).items():
        print(f"{name}: {value:.1f}")
