"""The W&B sweep configuration, and the key=value overrides through which its agent passes parameters."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from wandb.sdk.launch.sweeps.utils import create_sweep_command_args

from training.run_experiment import apply_overrides, parse_config

REPO_DIRNAME = Path(__file__).resolve().parents[2]
SWEEP = yaml.safe_load((REPO_DIRNAME / "training" / "experiments" / "sweep.yaml").read_text())


def agent_command(parameters: dict) -> list[str]:
    """The command a `wandb agent` runs for one set of parameters, built as the agent builds it."""
    sweep_vars = create_sweep_command_args({"args": {name: {"value": value} for name, value in parameters.items()}})
    sweep_vars.update(env=[], interpreter=[sys.executable], program=[SWEEP["program"]])
    command: list[str] = []
    for part in SWEEP["command"]:
        command += sweep_vars[part[2:-1]] if part.startswith("${") else [part]
    return command


def one_choice(spec: dict) -> object:
    return spec["value"] if "value" in spec else spec["values"][-1] if "values" in spec else spec["min"]


def test_agent_command_trains_the_chosen_parameters() -> None:
    parameters = {name: one_choice(spec) for name, spec in SWEEP["parameters"].items()}
    result = subprocess.run(
        [*agent_command(parameters), "--dry-run"], cwd=REPO_DIRNAME, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    config = json.loads(result.stdout)
    for name, value in parameters.items():
        node = config
        for key in name.split("."):
            node = node[key]
        assert node == value, name


def test_sweep_metric_is_logged_by_run_experiment() -> None:
    # WandbMetricsLogger logs each entry of the epoch logs under "epoch/"; validation metrics carry "val_".
    assert SWEEP["metric"]["name"] == "epoch/val_accuracy"
    assert (REPO_DIRNAME / SWEEP["program"]).is_file()


def test_overrides_reach_into_nested_entries() -> None:
    config = {"network": "lenet", "train_args": {"epochs": 2}}
    apply_overrides(config, ["network=mlp", "train_args.learning_rate=3e-4", "network_args.flags=['a', 'b']"])
    apply_overrides(config, ["dataset_args.balance=True", "dataset_args.name=null", "x.y.z=hello world"])
    assert config == {
        "network": "mlp",
        "train_args": {"epochs": 2, "learning_rate": 3e-4},
        "network_args": {"flags": ["a", "b"]},
        "dataset_args": {"balance": True, "name": None},
        "x": {"y": {"z": "hello world"}},
    }


@pytest.mark.parametrize(("override", "message"), [("network", "key=value"), ("network.size=3", "not an object")])
def test_bad_overrides_are_refused(override: str, message: str) -> None:
    base = '{"dataset": "EmnistDataset", "model": "CharacterModel", "network": "mlp"}'
    with pytest.raises(ValueError, match=message):
        parse_config(base, [override])
