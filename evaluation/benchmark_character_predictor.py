"""Single-image prediction latency and memory of a shipped character artifact, and training throughput of its
weights, on this machine.

    TEXT_RECOGNIZER_DATA_MIRROR=../shared/data/raw python evaluation/benchmark_character_predictor.py --network lenet
"""

import argparse

from evaluation.benchmarking import latency_percentiles_ms, peak_rss_mib, train_examples_per_s
from text_recognizer.datasets import EmnistDataset
from text_recognizer.predictors import CharacterPredictor


def benchmark(network: str, batch_size: int, train_batches: int, predictions: int) -> dict[str, float]:
    """p50/p99 ms of `predict` on one image and the peak RSS of prediction alone; then images/s of train steps on
    real batches (jitter included), with Keras loaded."""
    data = EmnistDataset()
    data.load_or_generate_data()
    predictor = CharacterPredictor(network)
    figures = latency_percentiles_ms(predictor.predict, list(data.x_test[:predictions]))
    figures["predict_peak_rss_mib"] = peak_rss_mib()
    from text_recognizer.models.base import load_shipped_model

    model = load_shipped_model(predictor.artifact.name)
    figures["train_images_per_s"] = train_examples_per_s(model, data.x_train, data.y_train, batch_size, train_batches)
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
