"""run_experiment: starting from earlier weights (`train_args.initial_weights`), on a sliver of EMNIST; refusing bad
configs before loading anything; the seed."""

import json
from pathlib import Path

import pytest

from training.run_experiment import main, parse_config, run_experiment

CONFIG = {
    "dataset": "EmnistDataset",
    "dataset_args": {"subsample_fraction": 0.01},
    "model": "CharacterModel",
    "network": "mlp",
    "network_args": {"layer_size": 32, "num_layers": 1},
    "train_args": {"batch_size": 64, "epochs": 1, "early_stopping_patience": 0},
}


def test_a_run_starts_from_initial_weights_and_records_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("text_recognizer.models.base.WEIGHTS_DIRNAME", tmp_path)
    first = run_experiment(parse_config(json.dumps(CONFIG)), save=True, use_wandb=False)
    shipped = tmp_path / "CharacterModel_EmnistDataset_mlp.weights.h5"
    first_info = json.loads(shipped.with_name("CharacterModel_EmnistDataset_mlp.json").read_text())

    # No epoch to train: the test metrics are those of the weights it started from.
    overrides = [f"train_args.initial_weights={shipped}", "train_args.epochs=0"]
    second = run_experiment(parse_config(json.dumps(CONFIG), overrides), save=True, use_wandb=False)
    assert second == pytest.approx(first)
    second_info = json.loads(shipped.with_name("CharacterModel_EmnistDataset_mlp.json").read_text())
    assert second_info["initialized_from"] == first_info
    assert str(shipped) in second_info["command"]


def test_missing_initial_weights_are_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "none.weights.h5"
    assert main([json.dumps(CONFIG), f"train_args.initial_weights={missing}", "--nowandb"]) == 2
    assert f"no such file {missing}" in capsys.readouterr().err


def _exit_status(argv: list[str]) -> int:
    """main's exit status, whether it returns it or exits (argparse's `parser.error` exits with 2)."""
    try:
        return main(argv)
    except SystemExit as e:
        return int(e.code or 0)


def _with(section: str | None, key: str, value: object) -> dict:
    config = json.loads(json.dumps(CONFIG))
    if section is None:
        config[key] = value
    else:
        config[section][key] = value
    return config


BAD_CONFIGS = {
    "train_args null": ({**CONFIG, "train_args": None}, "train_args must be an object, got null"),
    "epochs a string": (_with("train_args", "epochs", "2"), 'train_args.epochs must be an integer, got "2"'),
    "epochs negative": (_with("train_args", "epochs", -1), "train_args.epochs must be 0 or more, got -1"),
    "batch_size 0": (_with("train_args", "batch_size", 0), "train_args.batch_size must be at least 1, got 0"),
    "batch_size true": (_with("train_args", "batch_size", True), "train_args.batch_size must be an integer, got true"),
    "learning_rate 0": (_with("train_args", "learning_rate", 0), "train_args.learning_rate must be positive, got 0"),
    "validation_fraction 1": (
        _with("train_args", "validation_fraction", 1.0),
        "train_args.validation_fraction must be in [0, 1), got 1.0",
    ),
    "seed a float": (_with("train_args", "seed", 1.5), "train_args.seed must be an integer, got 1.5"),
    "unknown train_args": (_with("train_args", "epoch", 2), "Unknown train_args ['epoch']"),
    "unknown top-level key": (_with(None, "trian_args", {}), "Unknown config entries ['trian_args']"),
    "dataset_args a list": (_with(None, "dataset_args", []), "dataset_args must be an object, got []"),
    "network not a name": (_with(None, "network", 3), "network must be a function name, got 3"),
    "subsample_fraction 2": (
        _with("dataset_args", "subsample_fraction", 2.0),
        "subsample_fraction must be in (0, 1], got 2.0",
    ),
    "subsample_fraction negative": (
        _with("dataset_args", "subsample_fraction", -0.5),
        "subsample_fraction must be in (0, 1], got -0.5",
    ),
    "freeze_conv a string": (
        _with("train_args", "freeze_conv", "yes"),
        'train_args.freeze_conv must be true or false, got "yes"',
    ),
    "an empty list of data sets": (_with(None, "dataset", []), "dataset must be a class name or a list of weighted"),
    "a data set weight of 0": (
        _with(None, "dataset", [{"dataset": "EmnistDataset", "weight": 0}]),
        "dataset[0].weight must be a positive number, got 0",
    ),
    "a data set entry misspelt": (
        _with(None, "dataset", [{"dataset": "EmnistDataset", "arg": {}}]),
        "dataset[0]: unknown keys ['arg']",
    ),
    "dataset_args with a list": (
        _with(None, "dataset", [{"dataset": "EmnistDataset"}]),
        "dataset_args cannot go with a list of data sets",
    ),
}


@pytest.mark.parametrize(("config", "message"), BAD_CONFIGS.values(), ids=BAD_CONFIGS.keys())
def test_a_bad_config_is_a_clear_error_before_any_data_loads(
    config: dict, message: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from text_recognizer.datasets import EmnistDataset

    monkeypatch.setattr(EmnistDataset, "load_or_generate_data", lambda self: pytest.fail("the data was loaded"))
    assert _exit_status([json.dumps(config), "--nowandb"]) == 2
    err = capsys.readouterr().err
    assert f"error: {message}" in err and "Traceback" not in err
    error_lines = [line for line in err.splitlines() if "error:" in line]
    assert len(error_lines) == 1, err


def test_the_seed_is_used_and_recorded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import keras

    from text_recognizer.models.character_model import CharacterModel

    monkeypatch.setattr("text_recognizer.models.base.WEIGHTS_DIRNAME", tmp_path)
    seeds: list[tuple[str, int]] = []
    set_random_seed = keras.utils.set_random_seed
    seed_augmentation = CharacterModel.seed_augmentation

    def record_keras(seed: int) -> None:
        seeds.append(("keras", seed))
        set_random_seed(seed)

    def record_augmentation(self: CharacterModel, seed: int) -> None:
        seeds.append(("augmentation", seed))
        seed_augmentation(self, seed)

    monkeypatch.setattr(keras.utils, "set_random_seed", record_keras)
    monkeypatch.setattr(CharacterModel, "seed_augmentation", record_augmentation)
    run_experiment(parse_config(json.dumps(CONFIG), ["train_args.seed=7"]), save=True, use_wandb=False)
    assert seeds == [("keras", 7), ("augmentation", 7)]
    info = json.loads((tmp_path / "CharacterModel_EmnistDataset_mlp.json").read_text())
    assert info["seed"] == 7 and info["config"]["train_args"]["seed"] == 7
    assert "train_args.seed" not in info["command"] and '"seed": 7' in info["command"]


def test_the_default_seed_is_0_and_keeps_the_default_augmentation() -> None:
    import numpy as np

    from text_recognizer.datasets import IamLinesDataset

    assert parse_config(json.dumps(CONFIG))["train_args"]["seed"] == 0
    default, seeded = IamLinesDataset(), IamLinesDataset()
    seeded.seed_augmentation(0)
    assert np.array_equal(default._rng.random(4), seeded._rng.random(4))


def test_a_list_of_data_sets_is_their_mix(capsys: pytest.CaptureFixture[str]) -> None:
    sources = [{"dataset": "IamLinesDataset", "weight": 2}, {"dataset": "LinesDataset", "args": {"source": "x"}}]
    config = {**CONFIG, "dataset": sources}
    del config["dataset_args"]
    assert main([json.dumps(config), "--dry-run"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["dataset"] == "MixedLinesDataset" and printed["dataset_args"] == {"sources": sources}


def test_a_bad_name_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert _exit_status([json.dumps(CONFIG), "--save", "--name", "../elsewhere", "--nowandb"]) == 2
    assert "--name '../elsewhere': use letters, digits" in capsys.readouterr().err


def test_fine_tuning_frozen_and_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """From earlier weights, the conv layers frozen: they keep their weights, the dense ones learn; the weights are
    saved under the name given, beside (not over) those they started from."""
    import h5py
    import numpy as np

    monkeypatch.setattr("text_recognizer.models.base.WEIGHTS_DIRNAME", tmp_path)
    lenet = {**CONFIG, "network": "lenet", "network_args": {}}
    run_experiment(parse_config(json.dumps(lenet)), save=True, use_wandb=False)
    first = tmp_path / "CharacterModel_EmnistDataset_lenet.weights.h5"
    overrides = [f"train_args.initial_weights={first}", "train_args.freeze_conv=true"]
    run_experiment(parse_config(json.dumps(lenet), overrides), save=True, use_wandb=False, name="my_lenet")
    tuned = tmp_path / "my_lenet.weights.h5"
    assert json.loads((tmp_path / "my_lenet.json").read_text())["command"].startswith(
        "python training/run_experiment.py --save --name my_lenet "
    )

    def weights(path: Path) -> dict[str, np.ndarray]:
        arrays: dict[str, np.ndarray] = {}
        with h5py.File(path) as f:
            f.visititems(lambda name, item: arrays.update({name: item[()]}) if isinstance(item, h5py.Dataset) else None)
        return arrays

    before, after = weights(first), weights(tuned)
    conv = [name for name in before if "conv2d" in name]
    dense = [name for name in before if "dense" in name]
    assert conv and dense
    assert all(np.array_equal(before[name], after[name]) for name in conv)
    assert any(not np.array_equal(before[name], after[name]) for name in dense)


def test_freezing_a_network_without_conv_layers_is_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([json.dumps(CONFIG), "train_args.freeze_conv=true", "--nowandb"]) == 2
    assert "the network has no convolutional layers to freeze" in capsys.readouterr().err
