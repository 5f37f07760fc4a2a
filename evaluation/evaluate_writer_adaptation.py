"""How much adapting the IAM line reader to one writer helps: for each writer of IAM's test split with at least three
forms, fine-tune the shipped reader on the lines of two of their forms and read the rest, before and after.

    TEXT_RECOGNIZER_DATA_MIRROR=../shared/data/raw nice python evaluation/evaluate_writer_adaptation.py \\
        [--max-writers 8] [--epochs 20] [--freeze-conv] [--learning-rate 3e-4] [--patience 4] [--guard] \
        [--validation-fraction 0.2] [--decoder greedy|shipped]

Fine-tuning runs in-process on the Keras model (no export per writer), through `training.run_experiment.train`, the
path `tasks/finetune_line_predictor.sh` takes: from the shipped weights, at a low learning rate, with early stopping
on a held-out fifth of the two forms' lines (shuffled with `--seed`; `--validation-fraction 0` trains on all of
them for `--epochs` instead), augmented as IAM training is. Prints a table
of CER before and after per writer and overall (the character errors of all writers' lines together), the relative
change, and the seconds each adaptation took. The writers' forms are taken in form-id order.
"""

import argparse
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

BASE_MODEL = "LineModelCtc_IamLinesDataset_line_lstm_ctc"
ADAPTATION_FORMS = 2
MIN_FORMS = ADAPTATION_FORMS + 1
# Fine-tuning settings for a writer's ~20 lines, as tasks/finetune_line_predictor.sh sets them, but for the epochs.
# Measured on the 12 writers (greedy CER, --freeze-conv): 1e-3 for at most 10 epochs (patience 3) cut errors 13% but
# made two writers worse (+0.8 points); 3e-4 for at most 20 (patience 4) cut them 21%; 3e-4 for 12 epochs on all the
# lines (--validation-fraction 0: a fifth more to learn from, no noisy stop on 4 lines) cut them 25%, every writer
# better; from the reader trained on found lines (find_line), 28% (9.53% to 6.82%), every writer better.
TRAIN_ARGS = {"batch_size": 8, "learning_rate": 3e-4, "validation_fraction": 0.2, "early_stopping_patience": 4,
              "reduce_lr_patience": 0}  # fmt: skip


@dataclass
class Lines:
    """Lines in the network's format, as `Model.fit` takes them (no validation split of their own)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray = field(default_factory=lambda: np.empty(0))
    y_val: np.ndarray = field(default_factory=lambda: np.empty(0))


@dataclass
class WriterResult:
    writer: str
    adapt_lines: int
    test_lines: int
    cer_before: float
    cer_after: float
    seconds: float
    kept_base: bool = False


def writers_forms(line_ids: list[str], writer_of_form: dict[str, str]) -> dict[str, dict[str, list[int]]]:
    """Writer -> form -> indices of its lines in `line_ids`, for writers with at least `MIN_FORMS` forms."""
    by_writer: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    for index, line_id in enumerate(line_ids):
        form_id = line_id.rsplit("-", 1)[0]
        by_writer[writer_of_form[form_id]][form_id].append(index)
    return {writer: dict(forms) for writer, forms in sorted(by_writer.items()) if len(forms) >= MIN_FORMS}


def split_writer(forms: dict[str, list[int]]) -> tuple[list[int], list[int]]:
    """Indices of the lines to adapt on (the first `ADAPTATION_FORMS` forms by id) and to test on (the others)."""
    ordered = sorted(forms)
    adapt = [i for form in ordered[:ADAPTATION_FORMS] for i in forms[form]]
    return adapt, [i for form in ordered[ADAPTATION_FORMS:] for i in forms[form]]


def adapt_and_measure(
    model: Any, initial: list[np.ndarray], x: np.ndarray, y: np.ndarray, adapt: list[int], test: list[int], args: Any
) -> tuple[float, float, float, bool]:
    """CER on the test lines before and after fine-tuning from `initial` on the adaptation lines, the seconds the
    fine-tuning took, and whether the guard (`args.guard`) kept the shipped weights."""
    from training.run_experiment import TrainArgs, train, training_callbacks

    model.network.set_weights(initial)
    for layer in model.network.layers:  # unfrozen: the last writer's freezing must not carry over
        layer.trainable = True
    before = model.evaluate(x[test], y[test])["cer"]
    order = np.random.default_rng(args.seed).permutation(adapt)  # the held-out fifth at random, not form 2's end
    train_args = TrainArgs.from_dict(
        {**settings(args), "epochs": args.epochs, "freeze_conv": args.freeze_conv, "seed": args.seed}
    )
    import keras

    keras.utils.set_random_seed(args.seed)  # dropout's, so that each writer's run is the same on every run
    model.seed_augmentation(args.seed)
    held_out = order[len(order) - int(len(order) * train_args.validation_fraction) :]  # as `Model.fit` holds it out
    held_out_before = model.evaluate(x[held_out], y[held_out])["cer"] if args.guard else 0.0
    start = time.perf_counter()
    train(model, Lines(x[order], y[order]), train_args, training_callbacks(train_args))
    seconds = time.perf_counter() - start
    kept_base = args.guard and model.evaluate(x[held_out], y[held_out])["cer"] > held_out_before
    if kept_base:  # the adapted reader reads the writer's held-out lines worse: it is not used
        model.network.set_weights(initial)
    return before, model.evaluate(x[test], y[test])["cer"], seconds, kept_base


def settings(args: Any) -> dict[str, Any]:
    """`TRAIN_ARGS` as the command line changes them."""
    changed = {"learning_rate": args.learning_rate, "early_stopping_patience": args.patience}
    return {**TRAIN_ARGS, **changed, "validation_fraction": args.validation_fraction}


def pooled_cer(results: list[WriterResult], attribute: str, lengths: dict[str, int]) -> float:
    """CER over all writers' test lines together: errors summed, over characters summed."""
    errors = sum(getattr(result, attribute) * lengths[result.writer] for result in results)
    return errors / max(sum(lengths[result.writer] for result in results), 1)


def table(results: list[WriterResult], lengths: dict[str, int]) -> str:
    """A Markdown table: per writer and overall, CER before and after, and the change."""
    rows = ["| writer | adapt lines | test lines | CER before | CER after | change | seconds |",
            "|---|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for r in results:
        change = (r.cer_after - r.cer_before) / r.cer_before if r.cer_before else 0.0
        rows.append(f"| {r.writer} | {r.adapt_lines} | {r.test_lines} | {r.cer_before:.2%} | {r.cer_after:.2%} | "
                    f"{change:+.0%}{' (kept shipped)' if r.kept_base else ''} | {r.seconds:.0f} |")  # fmt: skip
    before, after = pooled_cer(results, "cer_before", lengths), pooled_cer(results, "cer_after", lengths)
    seconds = np.mean([r.seconds for r in results])
    rows.append(f"| all ({len(results)}) | {sum(r.adapt_lines for r in results)} | "
                f"{sum(r.test_lines for r in results)} | {before:.2%} | {after:.2%} | "
                f"{(after - before) / before if before else 0:+.0%} | {seconds:.0f} (mean) |")  # fmt: skip
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--max-writers", type=int, default=None, help="adapt to the first N writers (by id) only")
    parser.add_argument("--epochs", type=int, default=20, help="most epochs of fine-tuning per writer (default 20)")
    parser.add_argument("--freeze-conv", action="store_true", help="fine-tune only the layers above the conv blocks")
    parser.add_argument("--learning-rate", type=float, default=TRAIN_ARGS["learning_rate"])
    parser.add_argument("--patience", type=int, default=TRAIN_ARGS["early_stopping_patience"],
                        help="epochs without a better held-out loss before stopping (0: never stop early)")  # fmt: skip
    parser.add_argument("--validation-fraction", type=float, default=TRAIN_ARGS["validation_fraction"],
                        help="adaptation lines held out to stop early (0: train on all for --epochs)")  # fmt: skip
    parser.add_argument("--decoder", choices=("greedy", "shipped"), default="greedy",
                        help="read greedily (default), or with the shipped beam search and language model")  # fmt: skip
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--guard",
        action="store_true",
        help="keep the shipped weights where the adapted ones read the held-out lines worse",
    )
    args = parser.parse_args(argv)
    if not 0 <= args.validation_fraction < 1:
        parser.error("--validation-fraction must be in [0, 1)")
    if args.guard and not args.validation_fraction:
        parser.error("--guard needs held-out lines: a --validation-fraction above 0")

    from text_recognizer.datasets import IamDataset
    from text_recognizer.models.base import load_shipped_model

    model: Any = load_shipped_model(BASE_MODEL)
    if args.decoder == "greedy":
        model.set_decoder()
    dataset = model.data
    dataset.augment = True  # the adaptation lines are distorted as IAM's training lines are
    dataset.load_or_generate_data()
    iam = IamDataset()
    iam.load_or_generate_data()
    writer_of_form = {line.form_id: line.writer for line in iam.lines}
    writers = writers_forms(dataset.line_ids["test"], writer_of_form)
    chosen = list(writers)[: args.max_writers] if args.max_writers else list(writers)
    print(f"{len(writers)} test writers with {MIN_FORMS}+ forms; adapting to {len(chosen)}: {', '.join(chosen)}")
    initial = model.network.get_weights()
    x, y, texts = dataset.x_test, dataset.y_test, dataset.texts["test"]
    results, lengths = [], {}
    for writer in chosen:
        adapt, test = split_writer(writers[writer])
        before, after, seconds, kept_base = adapt_and_measure(model, initial, x, y, adapt, test, args)
        results.append(WriterResult(writer, len(adapt), len(test), before, after, seconds, kept_base))
        lengths[writer] = sum(len(texts[i]) for i in test)
        print(f"writer {writer}: CER {before:.2%} -> {after:.2%} ({seconds:.0f} s)", flush=True)
    print()
    print(
        f"Fine-tuning {settings(args)}, at most {args.epochs} epochs, freeze_conv {args.freeze_conv}, seed {args.seed}"
    )
    print(table(results, lengths))
    worst = max(r.cer_after - r.cer_before for r in results)
    before, after = pooled_cer(results, "cer_before", lengths), pooled_cer(results, "cer_after", lengths)
    print(f"character errors {1 - after / before:.0%} fewer overall; worst writer {worst * 100:+.2f} points")
    print(f"cer_before: {before:.4f}")
    print(f"cer: {after:.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
