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
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
        _patch_keras_for_multi_worker()
        return strategy
    raise ValueError(f"Unknown distribution {name!r}; choose one of {list(STRATEGIES)}")


def _patch_keras_for_multi_worker() -> None:
    """Work around Keras 3 failing `fit` under MultiWorkerMirroredStrategy (keras-team/keras#20585).

    Keras reduces a whole (x, y) batch structure across workers just to learn its shapes, and reduces scalar
    per-replica losses and metrics along an axis 0 they lack. Both only go wrong across several workers; the
    replacements take the shapes from this worker's first replica, and average scalars over all replicas.
    """
    from keras.src import tree
    from keras.src.backend.tensorflow import trainer

    if getattr(trainer, "_text_recognizer_patched", False):
        return
    maybe_symbolic_build = trainer.TensorFlowTrainer._maybe_symbolic_build
    reduce_per_replica = trainer.reduce_per_replica

    def local_maybe_symbolic_build(self: Any, iterator: Any = None, data_batch: Any = None) -> None:
        if iterator is not None:
            local_results = self.distribute_strategy.experimental_local_results
            for _, _, batches in iterator:
                data_batch = tree.map_structure(lambda v: local_results(v)[0], next(batches))
                break
        maybe_symbolic_build(self, data_batch=data_batch)

    def mean_over_replicas(values: Any, strategy: Any, reduction: str = "auto") -> Any:
        if reduction in ("auto", "mean"):
            return tree.map_structure(lambda v: strategy.reduce("MEAN", v, axis=None), values)
        return reduce_per_replica(values, strategy, reduction)

    trainer.TensorFlowTrainer._maybe_symbolic_build = local_maybe_symbolic_build
    trainer.reduce_per_replica = mean_over_replicas
    trainer._text_recognizer_patched = True


def task_name(strategy: Any) -> str:
    """The task of a non-chief worker of a cluster, e.g. 'worker1'; '' for the chief, which saves and logs."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or resolver.task_type in (None, "chief"):
        return ""
    # Without a "chief" task, worker 0 plays that part (as in TensorFlow's own convention).
    if resolver.task_type == "worker" and resolver.task_id == 0 and "chief" not in resolver.cluster_spec().jobs:
        return ""
    return f"{resolver.task_type}{resolver.task_id}"
