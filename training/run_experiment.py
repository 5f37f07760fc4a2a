"""Train, evaluate and optionally save a model described by a JSON experiment config.

    python training/run_experiment.py --save \
        '{"dataset": "EmnistDataset", "model": "CharacterModel", "network": "lenet", "train_args": {"epochs": 2}}'

The config may also be the path of a JSON file. `train_args` takes `batch_size`, `epochs`, `learning_rate`,
`validation_fraction`, `early_stopping_patience` and `reduce_lr_patience` (epochs without a better validation loss
before stopping, or before halving the learning rate; 0 turns either off), `distribution` ("none",
"mirrored" or "multi_worker", see training/distribution.py), `initial_weights` (a `.weights.h5` file of the same
network to start from, to fine-tune or to train a shipped model further; the JSON saved beside the new weights then
keeps the one beside those it started from, so the chain of commands stays on record), `freeze_conv` (true: the
convolutional layers and their batch normalisation keep their weights, only the layers above them learn; for
fine-tuning on little data) and `seed` (of the weights' initialisation, the shuffling and the data set's augmentation;
0 by default). `model_args` go to the model class (how
a LineModelCtc decodes, see training/tune_decoder.py). Every entry is checked (see `TrainArgs`, `check_config`)
before anything is built or loaded; unknown keys are errors.

`dataset` may also be a list of weighted line data sets, trained on together (see `MixedLinesDataset`); the weights'
JSON then records every source and its hash (`dataset_sources`):

    python training/run_experiment.py --save --name my_mix '{"dataset": [
        {"dataset": "IamLinesDataset", "weight": 1},
        {"dataset": "FsdlHandwritingLinesDataset", "weight": 1}], "model": "LineModelCtc", "network": "line_lstm_ctc"}'

`--name NAME` saves the weights as `text_recognizer/weights/NAME.weights.h5` (and NAME.json) rather than under the
model's own name, so that a fine-tuned model ships beside the one it started from (tasks/finetune_line_predictor.sh).

An interrupted run started again with the same config resumes from its last finished epoch, also when only its
`epochs` changed (so a run can be extended, or cut short and saved from where it is); see training/checkpoints.py.

`key=value` arguments after the config override its entries, dotted keys reaching into nested ones (values are read
as JSON or Python literals where they parse, else as strings); this is how a W&B sweep agent passes its parameters
(training/experiments/sweep.yaml). `--dry-run` prints the resulting config without training:

    python training/run_experiment.py '{"dataset": "EmnistDataset", "model": "CharacterModel", "network": "mlp"}' \
        train_args.learning_rate=3e-4 network_args.num_layers=4
"""

import argparse
import ast
import contextlib
import dataclasses
import hashlib
import json
import math
import os
import re
import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

# Top-level entries of a config: the types each may have, and those types in words.
CONFIG_KEYS: dict[str, tuple[tuple[type, ...], str]] = {
    "dataset": ((str, list), "a class name or a list of weighted data sets"),
    "model": ((str,), "a class name"),
    "network": ((str,), "a function name"),
    "dataset_args": ((dict,), "an object"),
    "network_args": ((dict,), "an object"),
    "model_args": ((dict, type(None)), "an object or null"),
    "train_args": ((dict,), "an object"),
    "experiment_group": ((str, type(None)), "a string or null"),
}
REQUIRED_KEYS = ("dataset", "model", "network")
MIXED_DATASET = "MixedLinesDataset"
# Layers `freeze_conv` freezes: the convolutional front end and its normalisation.
FROZEN_LAYER_TYPES = ("Conv2D", "BatchNormalization")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")


@dataclasses.dataclass(frozen=True)
class TrainArgs:
    """The `train_args` of an experiment config, each checked for its type and range when made."""

    batch_size: int = 128
    epochs: int = 10
    learning_rate: float = 1e-3
    validation_fraction: float = 0.1
    early_stopping_patience: int = 3
    reduce_lr_patience: int = 1
    distribution: str = "none"
    initial_weights: str | None = None
    freeze_conv: bool = False
    seed: int = 0

    def __post_init__(self) -> None:
        from training.distribution import STRATEGIES

        for name in ("batch_size", "epochs", "early_stopping_patience", "reduce_lr_patience", "seed"):
            _check(name, getattr(self, name), "an integer", _is_int)
        for name in ("learning_rate", "validation_fraction"):
            _check(name, getattr(self, name), "a number", _is_number)
        _check("distribution", self.distribution, "a string", lambda v: isinstance(v, str))
        _check("initial_weights", self.initial_weights, "a path or null", lambda v: v is None or isinstance(v, str))
        _check("freeze_conv", self.freeze_conv, "true or false", lambda v: isinstance(v, bool))
        _check("batch_size", self.batch_size, "at least 1", lambda v: v >= 1)
        # 0 epochs is allowed: it evaluates (and with --save ships) the weights a run resumes or starts from.
        for name in ("epochs", "early_stopping_patience", "reduce_lr_patience", "seed"):
            _check(name, getattr(self, name), "0 or more", lambda v: v >= 0)
        _check("learning_rate", self.learning_rate, "positive", lambda v: v > 0)
        _check("validation_fraction", self.validation_fraction, "in [0, 1)", lambda v: 0 <= v < 1)
        _check("distribution", self.distribution, f"one of {list(STRATEGIES)}", lambda v: v in STRATEGIES)

    @classmethod
    def from_dict(cls, args: Any) -> "TrainArgs":
        """`TrainArgs` from a config's `train_args` object, missing entries taking their defaults."""
        if not isinstance(args, dict):
            raise ValueError(f"train_args must be an object, got {json.dumps(args)}")
        known = [field.name for field in dataclasses.fields(cls)]
        unknown = sorted(set(args) - set(known))
        if unknown:
            raise ValueError(f"Unknown train_args {unknown}; known: {sorted(known)}")
        return cls(**args)


DEFAULT_TRAIN_ARGS = {field.name: field.default for field in dataclasses.fields(TrainArgs)}


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)  # JSON's true is no batch size


def _is_number(value: Any) -> bool:
    return (isinstance(value, float) and math.isfinite(value)) or _is_int(value)


def _check(name: str, value: Any, requirement: str, test: Callable[[Any], bool]) -> None:
    if not test(value):
        raise ValueError(f"train_args.{name} must be {requirement}, got {json.dumps(value, default=repr)}")


def check_config(config: Any) -> None:
    """Raise a one-line ValueError naming the first entry of `config` (not `train_args`) that is missing, unknown or
    of the wrong type."""
    if not isinstance(config, dict):
        raise ValueError("The experiment config must be a JSON object")
    missing = [key for key in REQUIRED_KEYS if key not in config]
    if missing:
        raise ValueError(f"The experiment config lacks {missing}")
    unknown = sorted(set(config) - CONFIG_KEYS.keys())
    if unknown:
        raise ValueError(f"Unknown config entries {unknown}; known: {sorted(CONFIG_KEYS)}")
    for key, (types, requirement) in CONFIG_KEYS.items():
        if key in config and not isinstance(config[key], types):
            raise ValueError(f"{key} must be {requirement}, got {json.dumps(config[key])}")
    for key in REQUIRED_KEYS:
        if not config[key]:
            raise ValueError(f"{key} must be {CONFIG_KEYS[key][1]}, got {json.dumps(config[key])}")
    if isinstance(config["dataset"], list):
        from text_recognizer.datasets.mixed_lines_dataset import check_sources

        check_sources(config["dataset"])
        if config.get("dataset_args"):
            raise ValueError("dataset_args cannot go with a list of data sets: give each its own args")


def resolve_datasets(config: dict[str, Any]) -> dict[str, Any]:
    """`config` with a list of data sets as the `MixedLinesDataset` of them (what `build_model` builds)."""
    if not isinstance(config["dataset"], list):
        return config
    return {**config, "dataset": MIXED_DATASET, "dataset_args": {"sources": config["dataset"]}}


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
    """The experiment config from a JSON string or the path of a JSON file, overridden, checked (`check_config`,
    `TrainArgs`), with defaults filled in. Errors are ValueErrors of one line."""
    source = Path(text).read_text() if text.lstrip()[:1] != "{" and Path(text).is_file() else text
    try:
        config = json.loads(source)
    except json.JSONDecodeError as e:
        raise ValueError(f"The experiment config is not valid JSON: {e}") from e
    if not isinstance(config, dict):
        raise ValueError("The experiment config must be a JSON object")
    apply_overrides(config, overrides or [])
    check_config(config)
    config = resolve_datasets(config)
    config["train_args"] = dataclasses.asdict(TrainArgs.from_dict(config.get("train_args", {})))
    config.setdefault("dataset_args", {})
    config.setdefault("network_args", {})
    return config


def check_name(name: str) -> str:
    """`name` if it can name shipped weights and an artifact (a file and folder name), else a ValueError."""
    if not _NAME.fullmatch(name):
        raise ValueError(f"--name {name!r}: use letters, digits, '_', '.' and '-' (not first), at most 100")
    return name


def freeze_conv_layers(network: Any) -> int:
    """Freeze the network's convolutional layers and their batch normalisation (see `FROZEN_LAYER_TYPES`); how many.

    Frozen batch normalisation also keeps its statistics: a few lines of one writer would otherwise drag them far
    from those the layers above were trained with."""
    frozen = 0
    for layer in network.layers:
        if type(layer).__name__ in FROZEN_LAYER_TYPES:
            layer.trainable = False
            frozen += 1
    if not frozen:
        raise ValueError("train_args.freeze_conv: the network has no convolutional layers to freeze")
    return frozen


def training_callbacks(train_args: TrainArgs) -> list[Any]:
    """Learning-rate halving and early stopping (restoring the best weights) on the validation loss, as configured."""
    import keras

    callbacks: list[keras.callbacks.Callback] = []
    if train_args.validation_fraction:
        if train_args.reduce_lr_patience:
            callbacks.append(
                keras.callbacks.ReduceLROnPlateau(factor=0.5, patience=train_args.reduce_lr_patience, verbose=1)
            )
        if train_args.early_stopping_patience:
            callbacks.append(
                keras.callbacks.EarlyStopping(
                    patience=train_args.early_stopping_patience, restore_best_weights=True, verbose=1
                )
            )
    return callbacks


def train(model: Any, dataset: Any, train_args: TrainArgs, callbacks: list[Any]) -> Any:
    """Fit `model` on `dataset` (its `x_train`, validated on its `x_val` or a fraction of `x_train`) as `train_args`
    say, the convolutional layers frozen with `freeze_conv`: the path every run and every fine-tuning takes (the
    writer adaptation too, on weights it loaded itself). Gives the Keras history."""
    if train_args.freeze_conv:
        print(f"Frozen {freeze_conv_layers(model.network)} convolutional and normalisation layers")
    return model.fit(
        dataset,
        batch_size=train_args.batch_size,
        epochs=train_args.epochs,
        learning_rate=train_args.learning_rate,
        validation_fraction=train_args.validation_fraction,
        callbacks=callbacks,
        seed=train_args.seed,
    )


def run_experiment(
    config: dict[str, Any], save: bool = False, use_wandb: bool = True, name: str | None = None
) -> dict[str, float]:
    """Train the configured model (a config from `parse_config`), evaluate it on the test split, and with `save` ship
    its weights (as `name`, given one, else under the model's own name)."""
    import keras

    from text_recognizer.datasets.dataset import DATA_DIRNAME
    from text_recognizer.models import base
    from text_recognizer.models.base import build_model
    from training.checkpoints import AtomicBackupAndRestore
    from training.distribution import make_strategy, task_name
    from training.gpu_util_sampler import GPUUtilizationSampler

    # Checked again, since callers may build a config themselves: every error before anything is built or loaded.
    check_config(config)
    config = resolve_datasets(config)
    save_as = check_name(name) if name is not None else None  # (`name` is reused by the loops below)
    train_args = TrainArgs.from_dict(config.get("train_args", {}))
    # First, because MultiWorkerMirroredStrategy must exist before any other TensorFlow work.
    strategy = make_strategy(train_args.distribution)
    # Only the chief of a multi-worker cluster logs and ships weights; the other workers just train with it.
    task = task_name(strategy)
    keras.utils.set_random_seed(train_args.seed)  # Python's, NumPy's and the backend's: the weights' initialisation
    with strategy.scope():
        model = build_model(config)
    model.seed_augmentation(train_args.seed)
    print(f"Experiment: {model.name} on {strategy.num_replicas_in_sync} replica(s)\n{json.dumps(config)}")
    dataset = model.data
    dataset.load_or_generate_data()
    print(dataset)

    initialized_from: dict[str, Any] | None = None
    if train_args.initial_weights:
        initial = Path(train_args.initial_weights)
        if not initial.is_file():
            raise ValueError(f"train_args.initial_weights: no such file {initial}")
        model.load_weights(initial)
        # Read now: with --save, the new weights may replace these very files.
        info_path = initial.with_name(initial.name.removesuffix(".weights.h5") + ".json")
        initialized_from = json.loads(info_path.read_text()) if info_path.is_file() else {"weights": str(initial)}
        print(f"Starting from the weights in {initial}")
    # The epoch budget is left out of the key so that a run can be resumed with more (or fewer) epochs; so is the
    # default seed and an unfrozen network, so that runs begun before there were either resume under the key they
    # were saved with.
    defaults_left_out = {"seed": 0, "freeze_conv": False}
    resumable_args = {
        k: v
        for k, v in dataclasses.asdict(train_args).items()
        if k != "epochs" and not (k in defaults_left_out and v == defaults_left_out[k])
    }
    resumable = {**config, "train_args": resumable_args}
    config_key = hashlib.sha256(json.dumps(resumable, sort_keys=True).encode()).hexdigest()[:12]
    backup_dirname = DATA_DIRNAME / "checkpoints" / f"{model.name}_{config_key}{task}"
    callbacks: list[keras.callbacks.Callback] = [AtomicBackupAndRestore(backup_dirname)]
    callbacks += training_callbacks(train_args)
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
        history = train(model, dataset, train_args, callbacks)
    metrics = {f"test_{name}": value for name, value in model.evaluate(dataset.x_test, dataset.y_test).items()}
    for name, value in metrics.items():
        print(f"{name}: {value:.4f}")
    if run is not None:
        run.summary.update(metrics)
        run.finish()
    if save and not task:
        named = f"--name {shlex.quote(save_as)} " if save_as else ""
        info = {
            "config": config,
            "command": f"python training/run_experiment.py --save {named}" + shlex.quote(json.dumps(config)),
            "metrics": metrics,
            # Epoch numbers count from the start of the run, also when it resumed from a backup (and when a resumed run
            # had no epoch left to train, its history is empty).
            "epochs_run": history.epoch[-1] + 1 if history.epoch else train_args.epochs,
            "seed": train_args.seed,
            "dataset_sha256": dataset.raw_sha256(),
        }
        if hasattr(dataset, "sources"):  # data sets over imported exports, and mixes of data sets
            info["dataset_sources"] = dataset.sources()
        if initialized_from is not None:
            info["initialized_from"] = initialized_from
        path = base.WEIGHTS_DIRNAME / f"{save_as}.weights.h5" if save_as else None
        print(f"Saved weights to {model.save_weights(path, info=info)}")
    return metrics


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config", help="experiment config: a JSON object, or the path of a JSON file")
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="config entries to override")
    parser.add_argument("--save", action="store_true", help="write the weights the predictors load")
    parser.add_argument("--name", help="with --save: ship the weights as NAME (default: the model's own name)")
    parser.add_argument(
        "--gpu", type=int, default=-1, help="GPU index to use; -1 asks the GPU manager (distributed runs use all)"
    )
    parser.add_argument("--nowandb", action="store_true", help="do not log to Weights & Biases")
    parser.add_argument("--dry-run", action="store_true", help="print the config with overrides and defaults, and exit")
    args = parser.parse_args(argv)
    try:
        config = parse_config(args.config, args.overrides)
        if args.name is not None:
            check_name(args.name)
    except (OSError, ValueError) as e:
        parser.error(str(e))
    if args.dry_run:
        print(json.dumps(config))
        return 0

    from text_recognizer.datasets import DataError
    from training.gpu_manager import GPUManager

    # CUDA numbers GPUs fastest first by default; NVML, which the GPU manager reads, numbers them by PCI bus.
    os.environ.setdefault("CUDA_DEVICE_ORDER", "PCI_BUS_ID")
    distributed = config["train_args"]["distribution"] != "none"  # checked by parse_config
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
            run_experiment(config, save=args.save, use_wandb=not args.nowandb, name=args.name)
        except (ValueError, DataError) as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
