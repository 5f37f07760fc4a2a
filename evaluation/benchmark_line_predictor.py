"""Prediction latency, throughput and memory of a shipped line artifact (and of the paragraph recognizer), then the
training throughput of its weights, on this machine.

    TEXT_RECOGNIZER_DATA_MIRROR=../shared/data/raw NLTK_DATA=../shared/data/nltk_data \
        python evaluation/benchmark_line_predictor.py --dataset iam_lines [--decoder '{}'] [--dtype-policy NAME]

Latency is of `predict` on one test line (as the data set stores it, read back as an image: polarity, ink
normalization and resizing included); a paragraph's is of IAM test-split paragraphs of `--paragraph-lines` lines at
full resolution, read whole. Prediction is timed before Keras is imported, so `predict_peak_rss_mib` is the memory
a serving process needs. `--dtype-policy` sets Keras' for the train steps (`mixed_bfloat16`: bfloat16 maths, float32
weights), to see whether this CPU trains faster so.
"""

import argparse
import json
import time
from typing import Any

from evaluation.benchmarking import latency_percentiles_ms, peak_rss_mib, train_examples_per_s
from evaluation.evaluate_line_predictor import load_test_dataset
from text_recognizer.predictors import LinePredictor, ParagraphTextRecognizer
from text_recognizer.predictors.line import SHIPPED_MODELS


def benchmark(
    dataset: str,
    batch_size: int,
    train_batches: int,
    predictions: int,
    decoder: dict[str, Any] | None = None,
    paragraph_lines: int = 9,
    dtype_policy: str = "float32",
) -> dict[str, float]:
    """p50/p99 ms of `predict` on one line, lines/s of `predict_batch`, p50/p99 ms of a paragraph (IAM only), the
    peak RSS so far; then lines/s of train steps and the peak RSS with Keras.

    `decoder` replaces the way the artifact decodes (see `LinePredictor`); `dtype_policy` is Keras' for training.
    """
    predictor = LinePredictor(dataset, decoder=decoder)
    data = load_test_dataset(predictor, max(predictions, batch_size * (train_batches + 3)))
    images = list(data.x_test[:predictions])
    figures = latency_percentiles_ms(predictor.predict, images)
    predictor.predict_batch(images[:batch_size])
    start = time.perf_counter()
    for i in range(0, len(images), batch_size):
        predictor.predict_batch(images[i : i + batch_size])
    figures["predict_batch_lines_per_s"] = len(images) / (time.perf_counter() - start)
    if dataset in ("iam", "iam_lines") and decoder is None:
        from evaluation.evaluate_paragraph_text_recognizer import load_test_pages

        pages = [page.crop for page in load_test_pages() if len(page.lines) == paragraph_lines][:20]
        recognizer = ParagraphTextRecognizer()
        paragraph = latency_percentiles_ms(lambda page: recognizer.predict_pages([page]), pages, warmup=2)
        figures.update({f"paragraph_{key}": value for key, value in paragraph.items()})
        figures["paragraph_pages"] = len(pages)
    figures["predict_peak_rss_mib"] = peak_rss_mib()
    import keras

    from text_recognizer.models.base import load_shipped_model

    keras.config.set_dtype_policy(dtype_policy)
    model = load_shipped_model(predictor.artifact.name)
    figures["train_lines_per_s"] = train_examples_per_s(model, data.x_test, data.y_test, batch_size, train_batches)
    figures["peak_rss_mib"] = peak_rss_mib()
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="iam_lines", choices=sorted(SHIPPED_MODELS))
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--train-batches", type=int, default=20)
    parser.add_argument("--predictions", type=int, default=300)
    parser.add_argument("--paragraph-lines", type=int, default=9, help="lines of the paragraphs timed")
    parser.add_argument("--decoder", type=json.loads, help="decode otherwise than the artifact: '{}' is greedy")
    parser.add_argument("--dtype-policy", default="float32", choices=("float32", "mixed_bfloat16"),
                        help="Keras' dtype policy of the train steps")  # fmt: skip
    args = parser.parse_args()
    figures = benchmark(
        args.dataset, args.batch_size, args.train_batches, args.predictions, args.decoder, args.paragraph_lines,
        args.dtype_policy,
    )  # fmt: skip
    for name, value in figures.items():
        print(f"{name}: {value:.1f}")
