"""run_experiment starting from earlier weights (`train_args.initial_weights`), on a sliver of EMNIST."""

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
