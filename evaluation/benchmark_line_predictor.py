"""Prediction latency and throughput, and training throughput, of the shipped line predictor on this machine.

    TEXT_RECOGNIZER_DATA_MIRROR=../shared/data/raw NLTK_DATA=../shared/data/nltk_data \
        python evaluation/benchmark_line_predictor.py --dataset iam_lines
"""

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from evaluation.benchmarking import latency_percentiles_ms, peak_rss_mib, train_examples_per_s  # noqa: E402
from evaluation.evaluate_line_predictor import load_test_lines  # noqa: E402
from text_recognizer.line_predictor import SHIPPED_MODELS, LinePredictor  # noqa: E402


def benchmark(
    dataset: str, batch_size: int, train_batches: int, predictions: int, decoder: dict[str, Any] | None = None
) -> dict[str, float]:
    """p50/p99 ms of `predict` on one line, lines/s of `predict_batch`, and lines/s of train steps.

    `decoder` replaces the way the shipped config decodes (see `LinePredictor`).
    """
    predictor = LinePredictor(dataset, decoder=decoder)
    x, y = load_test_lines(predictor, max(predictions, batch_size * (train_batches + 3)))
    images = list(x[:predictions])
    figures = latency_percentiles_ms(predictor.predict, images)
    predictor.predict_batch(images[:batch_size])
    start = time.perf_counter()
    for i in range(0, len(images), batch_size):
        predictor.predict_batch(images[i : i + batch_size])
    figures["predict_batch_lines_per_s"] = len(images) / (time.perf_counter() - start)
    figures["train_lines_per_s"] = train_examples_per_s(predictor.model, x, y, batch_size, train_batches)
    figures["peak_rss_mib"] = peak_rss_mib()
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="iam_lines", choices=sorted(SHIPPED_MODELS))
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--train-batches", type=int, default=20)
    parser.add_argument("--predictions", type=int, default=300)
    parser.add_argument("--decoder", type=json.loads, help="decode otherwise than the shipped config: '{}' is greedy")
    args = parser.parse_args()
    figures = benchmark(args.dataset, args.batch_size, args.train_batches, args.predictions, args.decoder)
    for name, value in figures.items():
        print(f"{name}: {value:.1f}")
