"""Training throughput and single-image prediction latency of the shipped character models on this machine.

    TEXT_RECOGNIZER_DATA_MIRROR=../shared/data/raw python evaluation/benchmark_character_predictor.py --network lenet
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from evaluation.benchmarking import latency_percentiles_ms, peak_rss_mib, train_examples_per_s  # noqa: E402
from text_recognizer.character_predictor import CharacterPredictor  # noqa: E402


def benchmark(network: str, batch_size: int, train_batches: int, predictions: int) -> dict[str, float]:
    """p50/p99 ms of `predict` on one image, and images/s of train steps on real batches (jitter included)."""
    predictor = CharacterPredictor(network)
    data = predictor.model.data
    data.load_or_generate_data()
    figures = latency_percentiles_ms(predictor.predict, list(data.x_test[:predictions]))
    figures["train_images_per_s"] = train_examples_per_s(
        predictor.model, data.x_train, data.y_train, batch_size, train_batches
    )
    figures["peak_rss_mib"] = peak_rss_mib()
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--network", default="lenet")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--train-batches", type=int, default=50)
    parser.add_argument("--predictions", type=int, default=500)
    args = parser.parse_args()
    for name, value in benchmark(args.network, args.batch_size, args.train_batches, args.predictions).items():
        print(f"{name}: {value:.1f}")
