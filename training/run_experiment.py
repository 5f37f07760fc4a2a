"""Train, evaluate and optionally save a model described by a JSON experiment config.

    python training/run_experiment.py --save \
        '{"dataset": "EmnistDataset", "model": "CharacterModel", "network": "lenet", "train_args": {"epochs": 2}}'

The config may also be the path of a JSON file. `train_args` takes `batch_size`, `epochs`, `learning_rate`,
`validation_fraction`, `early_stopping_patience` and `reduce_lr_patience` (epochs without a better validation loss
before stopping, or before halving the learning rate; 0 turns either off), `distribution` ("none",
"mirrored" or "multi_worker", see training/distribution.py) and `initial_weights` (a `.weights.h5` file of the same
network to start from, to fine-tune or to train a shipped model further; the JSON saved beside the new weights then
keeps the one beside those it started from, so the chain of commands stays on record). `model_args` go to the model
class (how a LineModelCtc decodes, see training/tune_decoder.py).

An interrupted run started again with the same config resumes from its last finished epoch, also when only its
`epochs` changed (so a run can be extended, or cut short and saved from where it is).

`key=value` arguments after the config override its entries, dotted keys reaching into nested ones (values are read
as JSON or Python literals where they parse, else as strings); this is how a W&B sweep agent passes its parameters
(training/experiments/sweep.yaml). `--dry-run` prints the resulting config without training:

    python training/run_experiment.py '{"dataset": "EmnistDataset", "model": "CharacterModel", "network": "mlp"}' \
        train_args.learning_rate=3e-4 network_args.num_layers=4
"""

import argparse
import ast
import contextlib
import hashlib
import json
import os
import shlex
import sys
from pathlib import Path
from typing import Any

DEFAULT_TRAIN_ARGS = {
    "batch_size": 128,
    "epochs": 10,
    "learning_rate": 1e-3,
    "validation_fraction": 0.1,
    "early_stopping_patience": 3,
    "reduce_lr_patience": 1,
    "distribution": "none",
    "initial_weights": None,
}


def apply_overrides(config: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """`config` with each `dotted.key=value` of `overrides` set, creating nested objects as needed."""
    for override in overrides:
        key, sep, text = override.partition("=")
        if not sep or not key:
            raise ValueError(f"Override {override!r} is not of the form key=value")
        *parents, leaf = key.split(".")
        node = config
        for parent in parents:
            node = node.setdefault(parent, {})
            if not isinstance(node, dict):
                raise ValueError(f"Override {override!r}: {parent!r} is not an object")
        node[leaf] = _parse_value(text)
    return config


def _parse_value(text: str) -> Any:
    # Python literals too, since a W&B agent writes values with str(): True, None, ['a', 'b'].
    for parse in (json.loads, ast.literal_eval):
        try:
            return parse(text)
        except (ValueError, SyntaxError):  # json.JSONDecodeError is a ValueError
            pass
    return text


def parse_config(text: str, overrides: list[str] | None = None) -> dict[str, Any]:
    """The experiment config from a JSON string or the path of a JSON file, overridden, with defaults filled in."""
    from training.distribution import STRATEGIES

    source = Path(text).read_text() if text.lstrip()[:1] != "{" and Path(text).is_file() else text
    try:
        config = json.loads(source)
    except json.JSONDecodeError as e:
        raise ValueError(f"The experiment config is not valid JSON: {e}") from e
    if not isinstance(config, dict):
        raise ValueError("The experiment config must be a JSON object")
    apply_overrides(config, overrides or [])
    missing = {"dataset", "model", "network"} - config.keys()
    if missing:
        raise ValueError(f"The experiment config lacks {sorted(missing)}")
    unknown = set(config.get("train_args", {})) - DEFAULT_TRAIN_ARGS.keys()
    if unknown:
        raise ValueError(f"Unknown train_args {sorted(unknown)}; known: {sorted(DEFAULT_TRAIN_ARGS)}")
    config["train_args"] = {**DEFAULT_TRAIN_ARGS, **config.get("train_args", {})}
    if config["train_args"]["distribution"] not in STRATEGIES:
        raise ValueError(f"Unknown distribution {config['train_args']['distribution']!r}; choose one of {STRATEGIES}")
    config.setdefault("dataset_args", {})
    config.setdefault("network_args", {})
    return config


def run_experiment(config: dict[str, Any], save: bool = False, use_wandb: bool = True) -> dict[str, float]:
    """Train the configured model, evaluate it on the test split, and with `save` ship its weights."""
    import keras

    from text_recognizer.datasets.dataset import DATA_DIRNAME
    from text_recognizer.models.base import build_model
    from training.distribution import make_strategy, task_name
    from training.gpu_util_sampler import GPUUtilizationSampler

    # First, because MultiWorkerMirroredStrategy must exist before any other TensorFlow work.
    strategy = make_strategy(config["train_args"]["distribution"])
    # Only the chief of a multi-worker cluster logs and ships weights; the other workers just train with it.
    task = task_name(strategy)
    with strategy.scope():
        model = build_model(config)
    print(f"Experiment: {model.name} on {strategy.num_replicas_in_sync} replica(s)\n{json.dumps(config)}")
    dataset = model.data
    dataset.load_or_generate_data()
    print(dataset)

    train_args = config["train_args"]
    initialized_from: dict[str, Any] | None = None
    if train_args["initial_weights"]:
        initial = Path(train_args["initial_weights"])
        if not initial.is_file():
            raise ValueError(f"train_args.initial_weights: no such file {initial}")
        model.load_weights(initial)
        # Read now: with --save, the new weights may replace these very files.
        info_path = initial.with_name(initial.name.removesuffix(".weights.h5") + ".json")
        initialized_from = json.loads(info_path.read_text()) if info_path.is_file() else {"weights": str(initial)}
        print(f"Starting from the weights in {initial}")
    # The epoch budget is left out of the key so that a run can be resumed with more (or fewer) epochs.
    resumable = {**config, "train_args": {k: v for k, v in train_args.items() if k != "epochs"}}
    config_key = hashlib.sha256(json.dumps(resumable, sort_keys=True).encode()).hexdigest()[:12]
    backup_dirname = DATA_DIRNAME / "checkpoints" / f"{model.name}_{config_key}{task}"
    callbacks: list[keras.callbacks.Callback] = [keras.callbacks.BackupAndRestore(str(backup_dirname))]
    if train_args["validation_fraction"]:
        if train_args["reduce_lr_patience"]:
            callbacks.append(
                keras.callbacks.ReduceLROnPlateau(factor=0.5, patience=train_args["reduce_lr_patience"], verbose=1)
            )
        if train_args["early_stopping_patience"]:
            callbacks.append(
                keras.callbacks.EarlyStopping(
                    patience=train_args["early_stopping_patience"], restore_best_weights=True, verbose=1
                )
            )
    # Before the W&B logger, which then logs the utilization this adds to each epoch's logs. It watches the GPUs
    # CUDA_VISIBLE_DEVICES leaves: the one main() picked, or every GPU of a distributed run.
    callbacks.append(GPUUtilizationSampler())
    run = None
    if use_wandb and not task:
        import wandb
        from wandb.integration.keras import WandbMetricsLogger

        # Offline unless an API key is configured or a sweep agent started this run: offline runs can be synced
        # later with `wandb sync`.
        online = any(os.environ.get(var) for var in ("WANDB_API_KEY", "WANDB_SWEEP_ID"))
        online = online or os.environ.get("WANDB_MODE") == "online"
        (DATA_DIRNAME / "wandb").mkdir(parents=True, exist_ok=True)
        run = wandb.init(
            project="text-recognizer",
            config=config,
            group=config.get("experiment_group"),
            dir=str(DATA_DIRNAME / "wandb"),
            mode="online" if online else "offline",
        )
        callbacks.append(WandbMetricsLogger())

    with strategy.scope():  # Model.fit compiles the network, which must happen in the scope too
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
    if save and not task:
        info = {
            "config": config,
            "command": "python training/run_experiment.py --save " + shlex.quote(json.dumps(config)),
            "metrics": metrics,
            # Epoch numbers count from the start of the run, also when it resumed from a backup (and when a resumed run
            # had no epoch left to train, its history is empty).
            "epochs_run": history.epoch[-1] + 1 if history.epoch else train_args["epochs"],
            "dataset_sha256": dataset.raw_sha256(),
        }
        if initialized_from is not None:
            info["initialized_from"] = initialized_from
        print(f"Saved weights to {model.save_weights(info=info)}")
    return metrics


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config", help="experiment config: a JSON object, or the path of a JSON file")
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="config entries to override")
    parser.add_argument("--save", action="store_true", help="write the weights the predictors load")
    parser.add_argument(
        "--gpu", type=int, default=-1, help="GPU index to use; -1 asks the GPU manager (distributed runs use all)"
    )
    parser.add_argument("--nowandb", action="store_true", help="do not log to Weights & Biases")
    parser.add_argument("--dry-run", action="store_true", help="print the config with overrides and defaults, and exit")
    args = parser.parse_args(argv)
    try:
        config = parse_config(args.config, args.overrides)
    except (OSError, ValueError) as e:
        parser.error(str(e))
    if args.dry_run:
        print(json.dumps(config))
        return 0

    from text_recognizer.datasets import DataError
    from training.gpu_manager import GPUManager

    # CUDA numbers GPUs fastest first by default; NVML, which the GPU manager reads, numbers them by PCI bus.
    os.environ.setdefault("CUDA_DEVICE_ORDER", "PCI_BUS_ID")
    distributed = config["train_args"]["distribution"] != "none"
    if distributed:  # replicas span every GPU that CUDA_VISIBLE_DEVICES leaves, so none is picked or hidden
        gpu_context: contextlib.AbstractContextManager[int | None] = contextlib.nullcontext(None)
    else:
        gpu_context = GPUManager().acquire() if args.gpu < 0 else contextlib.nullcontext(args.gpu)
    with gpu_context as gpu:
        if not distributed:
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
