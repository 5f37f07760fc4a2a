"""AtomicBackupAndRestore: a run resumes from its newest readable checkpoint, also when the newest is damaged."""

import json
from pathlib import Path

import keras
import numpy as np
import pytest

from training.checkpoints import AtomicBackupAndRestore, CheckpointWarning

X, Y = np.random.default_rng(0).random((16, 3)), np.zeros((16, 1))


class _StopAt(keras.callbacks.Callback):
    """Interrupts training as a killed run would, at the start of epoch `epoch` (0-based)."""

    def __init__(self, epoch: int):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        if epoch == self.epoch:
            raise KeyboardInterrupt


def _model() -> keras.Model:
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    return model


def _fit(backup: Path, epochs: int, stop_at: int | None = None) -> list[int]:
    callbacks: list[keras.callbacks.Callback] = [AtomicBackupAndRestore(backup)]
    if stop_at is not None:
        callbacks.append(_StopAt(stop_at))
    return _model().fit(X, Y, epochs=epochs, batch_size=8, verbose=0, callbacks=callbacks).epoch


def _interrupted_run(backup: Path, stop_at: int) -> None:
    with pytest.raises(KeyboardInterrupt):
        _fit(backup, epochs=10, stop_at=stop_at)


def test_an_interrupted_run_resumes_and_keeps_two_checkpoints(tmp_path: Path) -> None:
    backup = tmp_path / "backup"
    _interrupted_run(backup, stop_at=3)
    assert sorted(p.name for p in backup.iterdir()) == ["epoch-0002.weights.h5", "epoch-0003.weights.h5"]
    assert _fit(backup, epochs=5) == [3, 4]
    assert not backup.exists()  # removed once training ends, as Keras's own is


def test_a_truncated_checkpoint_falls_back_to_the_one_before(tmp_path: Path) -> None:
    backup = tmp_path / "backup"
    _interrupted_run(backup, stop_at=3)
    newest = backup / "epoch-0003.weights.h5"
    newest.write_bytes(newest.read_bytes()[:200])
    with pytest.warns(CheckpointWarning, match="epoch-0003"):
        assert _fit(backup, epochs=5) == [2, 3, 4]


def test_no_readable_checkpoint_is_a_clear_error(tmp_path: Path) -> None:
    backup = tmp_path / "backup"
    _interrupted_run(backup, stop_at=2)
    for path in backup.iterdir():
        path.write_bytes(b"garbage")
    with pytest.warns(CheckpointWarning), pytest.raises(ValueError, match="No checkpoint in .* can be read"):
        _fit(backup, epochs=5)


def test_a_checkpoint_in_keras_own_layout_is_resumed_from(tmp_path: Path) -> None:
    """Runs interrupted before this callback existed left Keras's `latest.weights.h5` and its epoch."""
    backup = tmp_path / "backup"
    backup.mkdir()
    _model().save_weights(backup / "latest.weights.h5")
    (backup / "training_metadata.json").write_text(json.dumps({"epoch": 2, "batch": 0}))
    assert _fit(backup, epochs=4) == [2, 3]
