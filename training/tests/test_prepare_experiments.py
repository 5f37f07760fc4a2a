"""Experiment groups to run_experiment commands."""

import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from training.prepare_experiments import experiment_commands, main

REPO_DIRNAME = Path(__file__).resolve().parents[2]
SAMPLE_FILENAME = REPO_DIRNAME / "training" / "experiments" / "sample.json"


def test_sample_group_gives_one_tagged_command_per_experiment() -> None:
    group = json.loads(SAMPLE_FILENAME.read_text())
    commands = experiment_commands(group)
    assert len(commands) == len(group["experiments"]) >= 2
    for command, experiment in zip(commands, group["experiments"], strict=True):
        *program, config = shlex.split(command)
        assert program == ["python", "training/run_experiment.py", "--gpu=-1"]
        assert json.loads(config) == {**experiment, "experiment_group": group["experiment_group"]}


def test_commands_are_accepted_by_run_experiment() -> None:
    command = experiment_commands(json.loads(SAMPLE_FILENAME.read_text()))[0]
    args = shlex.split(command)
    args[0] = sys.executable
    result = subprocess.run([*args, "--dry-run"], cwd=REPO_DIRNAME, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["experiment_group"] == "Sample Experiments"


def test_main_prints_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(SAMPLE_FILENAME)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == experiment_commands(json.loads(SAMPLE_FILENAME.read_text()))


@pytest.mark.parametrize(
    ("group", "message"),
    [
        ({"experiments": []}, "experiment_group"),
        ({"experiment_group": "g", "experiments": [{"dataset": "EmnistDataset", "model": "CharacterModel"}]}, "0 of"),
        (
            {
                "experiment_group": "g",
                "experiments": [
                    {"dataset": "EmnistDataset", "model": "CharacterModel", "network": "mlp"},
                    {"dataset": "EmnistDataset", "model": "CharacterModel", "network": "mlp", "train_args": {"x": 1}},
                ],
            },
            "Experiment 1 of 'g': Unknown train_args",
        ),
    ],
)
def test_bad_groups_are_refused(group: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        experiment_commands(group)
