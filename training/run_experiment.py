"""Train, evaluate and optionally save a model described by a JSON experiment config.

    python training/run_experiment.py --save \
        '{"dataset": "EmnistDataset", "model": "CharacterModel", "network": "lenet", "train_args": {"epochs": 2}}'

The config may also be the path of a JSON file. `train_args` takes `batch_size`, `epochs`, `learning_rate`,
`validation_fraction` and `early_stopping_patience` (0 turns early stopping off). An interrupted run started again
with the same config resumes from its last finished epoch.
"""

import argparse
import contextlib
import hashlib
import json
import os
import shlex
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DEFAULT_TRAIN_ARGS = {
    "batch_size": 128,
    "epochs": 10,
    "learning_rate": 1e-3,
    "validation_fraction": 0.1,
    "early_stopping_patience": 3,
}


def parse_config(text: str) -> dict[str, Any]:
    """The experiment config from a JSON string or the path of a JSON file, with defaults filled in."""
    source = Path(text).read_text() if text.lstrip()[:1] != "{" and Path(text).is_file() else text
    try:
        config = json.loads(source)
    except json.JSONDecodeError as e:
        raise ValueError(f"The experiment config is not valid JSON: {e}") from e
    if not isinstance(config, dict):
        raise ValueError("The experiment config must be a JSON object")
    missing = {"dataset", "model", "network"} - config.keys()
    if missing:
        raise ValueError(f"The experiment config lacks {sorted(missing)}")
    unknown = set(config.get("train_args", {})) - DEFAULT_TRAIN_ARGS.keys()
    if unknown:
        raise ValueError(f"Unknown train_args {sorted(unknown)}; known: {sorted(DEFAULT_TRAIN_ARGS)}")
    config["train_args"] = {**DEFAULT_TRAIN_ARGS, **config.get("train_args", {})}
    config.setdefault("dataset_args", {})
    config.setdefault("network_args", {})
    return config


def run_experiment(config: dict[str, Any], save: bool = False, use_wandb: bool = True) -> dict[str, float]:
    """Train the configured model, evaluate it on the test split, and with `save` ship its weights."""
    import keras

    from text_recognizer.datasets.dataset import DATA_DIRNAME
    from text_recognizer.models.base import build_model

    model = build_model(config)
    print(f"Experiment: {model.name}\n{json.dumps(config)}")
    dataset = model.data
    dataset.load_or_generate_data()
    print(dataset)

    train_args = config["train_args"]
    config_key = hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:12]
    callbacks: list[keras.callbacks.Callback] = [
        keras.callbacks.BackupAndRestore(str(DATA_DIRNAME / "checkpoints" / f"{model.name}_{config_key}"))
    ]
    if train_args["early_stopping_patience"] and train_args["validation_fraction"]:
        callbacks.append(
            keras.callbacks.EarlyStopping(
                patience=train_args["early_stopping_patience"], restore_best_weights=True, verbose=1
            )
        )
    run = None
    if use_wandb:
        import wandb
        from wandb.integration.keras import WandbMetricsLogger

        # Offline unless an API key is configured: runs can be synced later with `wandb sync`.
        online = bool(os.environ.get("WANDB_API_KEY")) or os.environ.get("WANDB_MODE") == "online"
        (DATA_DIRNAME / "wandb").mkdir(parents=True, exist_ok=True)
        run = wandb.init(
            project="text-recognizer",
            config=config,
            dir=str(DATA_DIRNAME / "wandb"),
            mode="online" if online else "offline",
        )
        callbacks.append(WandbMetricsLogger())

    history = model.fit(
        dataset,
        batch_size=train_args["batch_size"],
        epochs=train_args["epochs"],
        learning_rate=train_args["learning_rate"],
        validation_fraction=train_args["validation_fraction"],
        callbacks=callbacks,
    )
    metrics = {f"test_{name}": value for name, value in model.evaluate(dataset.x_test, dataset.y_test).items()}
    for name, value in metrics.items():
        print(f"{name}: {value:.4f}")
    if run is not None:
        run.summary.update(metrics)
        run.finish()
    if save:
        info = {
            "config": config,
            "command": "python training/run_experiment.py --save " + shlex.quote(json.dumps(config)),
            "metrics": metrics,
            "epochs_run": len(history.epoch),
            "dataset_sha256": dataset.raw_sha256(),
        }
        print(f"Saved weights to {model.save_weights(info=info)}")
    return metrics


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config", help="experiment config: a JSON object, or the path of a JSON file")
    parser.add_argument("--save", action="store_true", help="write the weights the predictors load")
    parser.add_argument("--gpu", type=int, default=-1, help="GPU index to use; -1 asks the GPU manager")
    parser.add_argument("--nowandb", action="store_true", help="do not log to Weights & Biases")
    args = parser.parse_args(argv)
    try:
        config = parse_config(args.config)
    except (OSError, ValueError) as e:
        parser.error(str(e))

    from text_recognizer.datasets import DataError
    from training.gpu_manager import GPUManager

    gpu_context = GPUManager().acquire() if args.gpu < 0 else contextlib.nullcontext(args.gpu)
    with gpu_context as gpu:
        # Must happen before TensorFlow initialises its devices, i.e. before the first model is built.
        os.environ["CUDA_VISIBLE_DEVICES"] = "" if gpu is None else str(gpu)
        print(f"Device: {'CPU' if gpu is None else f'GPU {gpu}'}")
        try:
            run_experiment(config, save=args.save, use_wandb=not args.nowandb)
        except (ValueError, DataError) as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
