"""The `tf.distribute` strategies that an experiment's `train_args.distribution` names.

- "none": the default strategy (one device).
- "mirrored": synchronous data parallelism over every GPU of this machine, or, where there is none, over every
  logical CPU device (which is how the tests exercise it).
- "multi_worker": synchronous data parallelism over the machines that `TF_CONFIG` describes; start the same
  command on each machine with its own `TF_CONFIG` task.

The model must be built and compiled inside the strategy's scope:

    >>> from training.distribution import make_strategy
    >>> strategy = make_strategy("mirrored")
    >>> with strategy.scope():
    ...     model = build_model(config)
"""

import os
from typing import Any

STRATEGIES = ("none", "mirrored", "multi_worker")


def make_strategy(name: str) -> Any:
    """The `tf.distribute.Strategy` called `name`; create it before any other TensorFlow work."""
    import tensorflow as tf

    if name == "none":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        # MirroredStrategy alone would use a single CPU device on a machine without GPUs.
        devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
        return tf.distribute.MirroredStrategy([device.name for device in devices])
    if name == "multi_worker":
        if "TF_CONFIG" not in os.environ:
            raise ValueError("distribution 'multi_worker' needs TF_CONFIG to describe the cluster and this task")
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ValueError(f"Unknown distribution {name!r}; choose one of {list(STRATEGIES)}")


def task_name(strategy: Any) -> str:
    """The task of a non-chief worker of a cluster, e.g. 'worker1'; '' for the chief, which saves and logs."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or resolver.task_type in (None, "chief"):
        return ""
    # Without a "chief" task, worker 0 plays that part (as in TensorFlow's own convention).
    if resolver.task_type == "worker" and resolver.task_id == 0 and "chief" not in resolver.cluster_spec().jobs:
        return ""
    return f"{resolver.task_type}{resolver.task_id}"
