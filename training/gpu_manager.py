"""Picks a free GPU and holds a cross-process lock on it while an experiment runs.

GPU memory and utilization come from NVML (`nvidia-ml-py`) when it is importable, else from `nvidia-smi`. The
lock is a Redis lock when `REDIS_URL` is set (so that experiments launched from several shells, or machines sharing
one Redis, coordinate), else a lock file under `data/gpu_locks/`.

    >>> from training.gpu_manager import GPUManager
    >>> with GPUManager().acquire() as gpu:   # None when the machine has no GPU: run on the CPU
    ...     print("GPU", gpu)
"""

import contextlib
import csv
import io
import itertools
import math
import os
import secrets
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from filelock import FileLock, Timeout

LOCK_DIRNAME = Path(__file__).resolve().parents[1] / "data" / "gpu_locks"
REDIS_URL_ENV_VAR = "REDIS_URL"


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
    """Readings of every GPU, in NVML (PCI bus) order; empty where there is no GPU or no driver."""
    try:
        import pynvml
    except ImportError:
        return _read_nvidia_smi()
    try:
        pynvml.nvmlInit()
        try:
            readings = []
            for index in range(pynvml.nvmlDeviceGetCount()):
                handle = pynvml.nvmlDeviceGetHandleByIndex(index)
                memory = pynvml.nvmlDeviceGetMemoryInfo(handle)
                utilization = pynvml.nvmlDeviceGetUtilizationRates(handle)
                readings.append(GPUReading(index, memory.used / 2**20, memory.total / 2**20, float(utilization.gpu)))
            return readings
        finally:
            pynvml.nvmlShutdown()
    except pynvml.NVMLError:
        # No driver, or a GPU that stopped answering: nvidia-smi may still say more.
        return _read_nvidia_smi()


def _read_nvidia_smi() -> list[GPUReading]:
    query = "index,memory.used,memory.total,utilization.gpu"
    try:
        out = subprocess.run(
            ["nvidia-smi", f"--query-gpu={query}", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [
        GPUReading(int(row[0]), float(row[1]), float(row[2]), float(row[3]))
        for row in csv.reader(io.StringIO(out), skipinitialspace=True)
        if row
    ]


class GPULock(Protocol):
    def acquire(self) -> bool:
        """Take the lock without waiting; whether it was taken."""
        ...

    def release(self) -> None: ...


class FileGPULock:
    """An OS file lock: held by one process on this machine, and let go by the OS if that process dies."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = FileLock(path)

    def acquire(self) -> bool:
        try:
            self._lock.acquire(timeout=0)
        except Timeout:
            return False
        return True

    def release(self) -> None:
        self._lock.release()


class RedisGPULock:
    """A Redlock-style lock on one Redis server: `SET NX PX` with a random token, renewed while held.

    Only the holder of the token can renew or delete the key (compare-and-set in Lua), so a lock that lapsed and
    was taken by another process is never released by the first. A process that dies stops renewing, and its lock
    lapses after `ttl_ms`.
    """

    _RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"
    _RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0"

    def __init__(self, client: Any, key: str, ttl_ms: int = 30_000):
        self.client, self.key, self.ttl_ms = client, key, ttl_ms
        self.token = secrets.token_hex(16)
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None

    def acquire(self) -> bool:
        if not self.client.set(self.key, self.token, nx=True, px=self.ttl_ms):
            return False
        self._stop.clear()
        self._renewer = threading.Thread(target=self._renew, name=f"renew {self.key}", daemon=True)
        self._renewer.start()
        return True

    def _renew(self) -> None:
        import redis

        # Renewing at a third of the TTL leaves two chances before the lock could lapse under a live experiment.
        while not self._stop.wait(self.ttl_ms / 3000):
            try:
                if not self.client.eval(self._RENEW, 1, self.key, self.token, self.ttl_ms):
                    print(f"warning: lost the GPU lock {self.key}")
                    return
            except redis.RedisError as e:
                print(f"warning: could not renew the GPU lock {self.key}: {e}")

    def release(self) -> None:
        import redis

        self._stop.set()
        if self._renewer is not None:
            self._renewer.join()
        try:
            self.client.eval(self._RELEASE, 1, self.key, self.token)
        except redis.RedisError as e:
            # The experiment is done; the key lapses by itself after its TTL.
            print(f"warning: could not release the GPU lock {self.key}: {e}")


def gpu_locks(redis_url: str | None = None, lock_dirname: Path = LOCK_DIRNAME) -> Callable[[int], GPULock]:
    """A factory of per-GPU locks: on the Redis at `redis_url` when given, else lock files in `lock_dirname`."""
    if not redis_url:
        return lambda index: FileGPULock(lock_dirname / f"gpu{index}.lock")
    import redis

    client = redis.Redis.from_url(redis_url, socket_timeout=10)
    # GPU indices are per machine, and one Redis may serve several machines.
    prefix = f"text-recognizer:gpu:{socket.gethostname()}"
    return lambda index: RedisGPULock(client, f"{prefix}:{index}")


class GPUManager:
    """Hands out free GPUs, one experiment each, guarded by a lock per GPU.

    Args:
        read_fn: returns the current GPU readings.
        lock_fn: the lock of a GPU index; by default a Redis lock when `REDIS_URL` is set, else a lock file.
        poll_interval_s: how often to look again while every GPU is busy.
    """

    def __init__(
        self,
        read_fn: Callable[[], list[GPUReading]] = read_gpus,
        lock_fn: Callable[[int], GPULock] | None = None,
        poll_interval_s: float = 10.0,
    ):
        self.read_fn = read_fn
        self.lock_fn = lock_fn or gpu_locks(os.environ.get(REDIS_URL_ENV_VAR))
        self.poll_interval_s = poll_interval_s

    @contextlib.contextmanager
    def acquire(self, wait_s: float = math.inf) -> Iterator[int | None]:
        """Yield the index of a free GPU, locked until the block exits.

        Yields None at once where the machine has no GPU, or once every GPU has stayed busy for `wait_s` seconds.
        """
        deadline = time.monotonic() + wait_s
        for attempt in itertools.count():
            readings = self.read_fn()
            if not readings:
                break
            for reading in filter(lambda r: r.free, readings):
                lock = self.lock_fn(reading.index)
                if lock.acquire():
                    try:
                        yield reading.index
                    finally:
                        lock.release()
                    return
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                print(f"warning: all {len(readings)} GPUs stayed busy; using the CPU")
                break
            if attempt == 0:
                print(f"All {len(readings)} GPUs are busy or locked; waiting for one to free up")
            time.sleep(min(self.poll_interval_s, remaining))
        yield None
