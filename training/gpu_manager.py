"""Picks a free GPU and holds a cross-process lock on it while an experiment starts.

    >>> from training.gpu_manager import GPUManager
    >>> with GPUManager().acquire() as gpu:   # None when the machine has no (free) GPU
    ...     ...
"""

import contextlib
import csv
import io
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock, Timeout

LOCK_DIRNAME = Path(__file__).resolve().parents[1] / "data" / "gpu_locks"


@dataclass(frozen=True)
class GPUReading:
    index: int
    memory_used_mib: float
    memory_total_mib: float
    utilization_pct: float

    @property
    def free(self) -> bool:
        # A GPU with under a tenth of its memory in use and little compute load counts as free.
        return self.memory_used_mib / self.memory_total_mib < 0.1 and self.utilization_pct < 10


def read_gpus() -> list[GPUReading]:
    """Readings of every GPU from `nvidia-smi`; empty where there is no GPU or no driver."""
    query = "index,memory.used,memory.total,utilization.gpu"
    try:
        out = subprocess.run(
            ["nvidia-smi", f"--query-gpu={query}", "--format=csv,noheader,nounits"],
            capture_output=True, text=True, check=True, timeout=10,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [
        GPUReading(int(row[0]), float(row[1]), float(row[2]), float(row[3]))
        for row in csv.reader(io.StringIO(out), skipinitialspace=True)
        if row
    ]


class GPUManager:
    """Hands out free GPUs, one experiment at a time each, using a lock file per GPU."""

    def __init__(self, read_fn: Callable[[], list[GPUReading]] = read_gpus, lock_dirname: Path = LOCK_DIRNAME):
        self.read_fn = read_fn
        self.lock_dirname = lock_dirname

    @contextlib.contextmanager
    def acquire(self) -> Iterator[int | None]:
        """Yield the index of a free GPU, locked until the block exits; None when none is free."""
        self.lock_dirname.mkdir(parents=True, exist_ok=True)
        for reading in self.read_fn():
            if not reading.free:
                continue
            lock = FileLock(self.lock_dirname / f"gpu{reading.index}.lock")
            try:
                lock.acquire(timeout=0)
            except Timeout:
                continue
            try:
                yield reading.index
            finally:
                lock.release()
            return
        yield None
