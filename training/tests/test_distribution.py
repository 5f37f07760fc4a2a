"""Distributed training through tf.distribute, on a CPU split into two logical devices.

The training runs in a subprocess: logical devices must be configured before TensorFlow initialises, which the other
tests in this process have already done.
"""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from training.distribution import task_name
from training.run_experiment import parse_config

REPO_DIRNAME = Path(__file__).resolve().parents[2]

TRAIN_ON_TWO_LOGICAL_CPUS = textwrap.dedent(
    """
    import json, sys
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

    from training.run_experiment import parse_config, run_experiment

    metrics = run_experiment(parse_config(sys.argv[1]), use_wandb=False, gpus=[])
    print("METRICS", json.dumps(metrics))
    """
)


def test_mirrored_training_runs_one_replica_per_logical_device():
    config = {
        "dataset": "EmnistDataset",
        "dataset_args": {"subsample_fraction": 0.01},
        "model": "CharacterModel",
        "network": "mlp",
        "network_args": {"layer_size": 32, "num_layers": 1},
        "train_args": {"batch_size": 64, "epochs": 1, "distribution": "mirrored", "early_stopping_patience": 0},
    }
    result = subprocess.run(
        [sys.executable, "-c", TRAIN_ON_TWO_LOGICAL_CPUS, json.dumps(config)],
        cwd=REPO_DIRNAME,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "on 2 replica(s)" in result.stdout
    metrics = json.loads(result.stdout.split("METRICS", 1)[1])
    assert 0.0 <= metrics["test_accuracy"] <= 1.0


def test_unknown_distribution_is_refused():
    config = '{"dataset": "EmnistDataset", "model": "CharacterModel", "network": "mlp"}'
    with pytest.raises(ValueError, match="distribution"):
        parse_config(config, ["train_args.distribution=horovod"])


class _Resolver:
    def __init__(self, task_type: str, task_id: int, jobs: list[str]):
        self.task_type, self.task_id, self._jobs = task_type, task_id, jobs

    def cluster_spec(self):
        return type("ClusterSpec", (), {"jobs": self._jobs})()


@pytest.mark.parametrize(
    ("resolver", "expected"),
    [
        (None, ""),
        (_Resolver("chief", 0, ["chief", "worker"]), ""),
        (_Resolver("worker", 0, ["chief", "worker"]), "worker0"),
        (_Resolver("worker", 0, ["worker"]), ""),
        (_Resolver("worker", 1, ["worker"]), "worker1"),
    ],
)
def test_only_the_chief_has_no_task_name(resolver: _Resolver | None, expected: str):
    strategy = type("Strategy", (), {"cluster_resolver": resolver})()
    assert task_name(strategy) == expected
