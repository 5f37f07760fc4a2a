"""Training throughput and single-image prediction latency of the shipped character models on this machine.

    TEXT_RECOGNIZER_DATA_MIRROR=../shared/data/raw python evaluation/benchmark_character_predictor.py --network lenet
"""

import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from text_recognizer.character_predictor import CharacterPredictor  # noqa: E402


def benchmark(network: str, batch_size: int, train_batches: int, predictions: int) -> dict[str, float]:
    """Images/s of train steps on real batches (jitter included), and p50/p99 ms of `predict` on one image."""
    predictor = CharacterPredictor(network)
    model = predictor.model
    model.data.load_or_generate_data()
    x, y = model.data.x_train, model.data.y_train
    model.network.compile(loss=model.loss(), optimizer=model.optimizer(1e-3), metrics=model.metrics())

    def train_step(i: int) -> None:
        rows = slice(i * batch_size, (i + 1) * batch_size)
        xb, yb = model.batch_augment_fn(x[rows], y[rows]) if model.batch_augment_fn else (x[rows], y[rows])
        model.network.train_on_batch(xb, yb)

    for i in range(3):  # tracing and first-call allocation are not throughput
        train_step(i)
    start = time.perf_counter()
    for i in range(train_batches):
        train_step(i)
    train_images_per_s = train_batches * batch_size / (time.perf_counter() - start)

    images = model.data.x_test[:predictions]
    for image in images[:5]:
        predictor.predict(image)
    latencies = []
    for image in images:
        start = time.perf_counter()
        predictor.predict(image)
        latencies.append((time.perf_counter() - start) * 1000)
    return {
        "train_images_per_s": train_images_per_s,
        "predict_p50_ms": float(np.percentile(latencies, 50)),
        "predict_p99_ms": float(np.percentile(latencies, 99)),
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--network", default="lenet")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--train-batches", type=int, default=50)
    parser.add_argument("--predictions", type=int, default=500)
    args = parser.parse_args()
    for name, value in benchmark(args.network, args.batch_size, args.train_batches, args.predictions).items():
        print(f"{name}: {value:.1f}")
