"""Distributed training through tf.distribute, on a CPU split into two logical devices.

The training runs in a subprocess: logical devices must be configured before TensorFlow initialises, which the other
tests in this process have already done.
"""

import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from training.distribution import task_name
from training.run_experiment import parse_config

REPO_DIRNAME = Path(__file__).resolve().parents[2]

# argv: the experiment config, and how many logical devices to split the CPU into.
TRAIN = textwrap.dedent(
    """
    import json, sys
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * int(sys.argv[2]))

    from training.run_experiment import parse_config, run_experiment

    metrics = run_experiment(parse_config(sys.argv[1]), use_wandb=False)
    print("METRICS", json.dumps(metrics))
    """
)


def tiny_config(distribution: str) -> str:
    return json.dumps(
        {
            "dataset": "EmnistDataset",
            "dataset_args": {"subsample_fraction": 0.01},
            "model": "CharacterModel",
            "network": "mlp",
            "network_args": {"layer_size": 32, "num_layers": 1},
            "train_args": {"batch_size": 64, "epochs": 2, "distribution": distribution, "early_stopping_patience": 0},
        }
    )


def train(config: str, logical_cpus: int, **popen_args) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", TRAIN, config, str(logical_cpus)],
        cwd=REPO_DIRNAME,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **popen_args,
    )


def finished_metrics(process: subprocess.Popen) -> dict[str, float]:
    """The metrics a training process printed, once it has ended well."""
    stdout, stderr = process.communicate(timeout=600)
    assert process.returncode == 0, stderr[-3000:]
    assert "on 2 replica(s)" in stdout
    return json.loads(stdout.split("METRICS", 1)[1])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_mirrored_training_runs_one_replica_per_logical_device() -> None:
    metrics = finished_metrics(train(tiny_config("mirrored"), logical_cpus=2))
    assert 0.0 <= metrics["test_accuracy"] <= 1.0


def test_multi_worker_training_keeps_two_workers_in_step() -> None:
    workers = [f"127.0.0.1:{_free_port()}" for _ in range(2)]
    processes = []
    for index in range(2):
        tf_config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
        env = {**os.environ, "TF_CONFIG": json.dumps(tf_config)}
        processes.append(train(tiny_config("multi_worker"), logical_cpus=1, env=env))
    chief, other = [finished_metrics(process) for process in processes]
    # Synchronous training leaves both workers with the same weights, hence the same test accuracy.
    assert chief == other


def test_unknown_distribution_is_refused() -> None:
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
def test_only_the_chief_has_no_task_name(resolver: _Resolver | None, expected: str) -> None:
    strategy = type("Strategy", (), {"cluster_resolver": resolver})()
    assert task_name(strategy) == expected
