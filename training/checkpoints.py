"""Resumable training whose checkpoints survive being cut off: Keras's `BackupAndRestore`, written atomically.

Keras writes its one checkpoint in place, so a run killed while writing it leaves a truncated file that fails every
later resume. Here each epoch's weights go to their own file, `epoch-<epochs done>.weights.h5`, written to a temporary
name and renamed (the name carries the epoch, so no separate record can disagree with it), and the last `keep` stay:
a resume loads the newest that reads and falls back to the one before.
"""

import json
import re
import warnings
from pathlib import Path
from typing import Any

import keras

from text_recognizer.util import atomic_path

_CHECKPOINT_NAME = re.compile(r"epoch-(\d+)\.weights\.h5")
# Keras's own layout, as runs before this module left it: resumed from too, then removed.
_KERAS_WEIGHTS, _KERAS_METADATA = "latest.weights.h5", "training_metadata.json"


class CheckpointWarning(UserWarning):
    """A checkpoint could not be read, and an older one is used instead."""


class AtomicBackupAndRestore(keras.callbacks.BackupAndRestore):
    """`BackupAndRestore` at the end of every epoch, keeping the last `keep` checkpoints in `backup_dir`; the folder
    is removed when training ends, as Keras's is."""

    def __init__(self, backup_dir: str | Path, keep: int = 2):
        super().__init__(str(backup_dir))
        if keep < 1:
            raise ValueError(f"keep must be at least 1, got {keep}")
        self.keep = keep

    def checkpoints(self) -> list[tuple[int, Path]]:
        """(epochs done, weights file) of each checkpoint in the folder, newest first."""
        folder = Path(self.backup_dir)
        found = [
            (int(match.group(1)), path)
            for path in folder.glob("epoch-*.weights.h5")
            if (match := _CHECKPOINT_NAME.fullmatch(path.name))
        ]
        legacy = folder / _KERAS_WEIGHTS
        if legacy.is_file():
            try:
                found.append((int(json.loads((folder / _KERAS_METADATA).read_text())["epoch"]), legacy))
            except (OSError, ValueError, KeyError, TypeError):
                pass  # no usable epoch number: the weights alone cannot resume a run
        return sorted(found, key=lambda checkpoint: checkpoint[0], reverse=True)

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        checkpoints = self.checkpoints()
        if not checkpoints:
            return
        if self.model.optimizer is not None and not self.model.optimizer.built:
            self.model.optimizer.build(self.model.trainable_variables)  # its variables are in the checkpoint too
        for epoch, path in checkpoints:
            try:
                self.model.load_weights(path)
            # h5py and Keras raise OSError, ValueError or KeyError on a damaged file: any of them means "older one".
            except Exception as e:
                warnings.warn(f"Skipping the unreadable checkpoint {path}: {e}", CheckpointWarning, stacklevel=2)
                continue
            self.model._initial_epoch = epoch  # how Keras's own BackupAndRestore resumes
            print(f"Resuming after epoch {epoch} from {path}")
            return
        # Every checkpoint failed, and some may have been half loaded: training on would start from a mixture.
        raise ValueError(f"No checkpoint in {self.backup_dir} can be read; remove the folder to train from the start")

    def _save_model(self) -> None:
        path = Path(self.backup_dir) / f"epoch-{self._current_epoch:04d}.weights.h5"
        with atomic_path(path) as partial:
            self.model.save_weights(partial)
        for _, old in self.checkpoints()[self.keep :]:
            old.unlink(missing_ok=True)
        if not (Path(self.backup_dir) / _KERAS_WEIGHTS).exists():
            (Path(self.backup_dir) / _KERAS_METADATA).unlink(missing_ok=True)
