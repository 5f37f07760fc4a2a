"""GPU manager: picking free GPUs from (fake) readings, and locks that keep two experiments off one GPU."""

import shutil
import socket
import subprocess
import sys
import textwrap
import threading
import time
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

from training import gpu_manager
from training.gpu_manager import GPUManager, GPUReading, RedisGPULock, gpu_locks

REPO_DIRNAME = Path(__file__).resolve().parents[2]
FREE = (0.0, 16_000.0, 0.0)
BUSY = (12_000.0, 16_000.0, 95.0)


def readings(*states: tuple[float, float, float]):
    return lambda: [GPUReading(index, *state) for index, state in enumerate(states)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    """A throwaway redis-server on 127.0.0.1, without persistence."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    port = _free_port()
    server = subprocess.Popen(
        ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server did not start on port {port}") from None
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture(params=["file", "redis"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str | None, Path]:
    """(redis_url, lock_dirname) of each lock backend; the Redis keys are flushed between tests."""
    if request.param == "file":
        return None, tmp_path
    url = request.getfixturevalue("redis_url")
    import redis

    redis.Redis.from_url(url).flushdb()
    return url, tmp_path


def test_busy_gpus_are_skipped(tmp_path: Path) -> None:
    with GPUManager(readings(BUSY, FREE), gpu_locks(None, tmp_path)).acquire(wait_s=0) as gpu:
        assert gpu == 1


def test_no_gpu_means_cpu(tmp_path: Path) -> None:
    with GPUManager(readings(), gpu_locks(None, tmp_path)).acquire() as gpu:
        assert gpu is None


def test_all_busy_falls_back_to_cpu_after_waiting(tmp_path: Path) -> None:
    manager = GPUManager(readings(BUSY, BUSY), gpu_locks(None, tmp_path), poll_interval_s=0.01)
    with manager.acquire(wait_s=0.05) as gpu:
        assert gpu is None


def test_threads_never_share_a_gpu(backend: tuple[str | None, Path]) -> None:
    manager = GPUManager(readings(FREE, FREE), gpu_locks(*backend))
    got: list[int | None] = []
    all_holding = threading.Barrier(3, timeout=10)

    def experiment() -> None:
        with manager.acquire(wait_s=0) as gpu:
            got.append(gpu)
            all_holding.wait()  # nobody lets go before all three have tried

    threads = [threading.Thread(target=experiment) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(got, key=str) == [0, 1, None]


def test_processes_never_share_a_gpu(backend: tuple[str | None, Path]) -> None:
    redis_url, lock_dirname = backend
    holder_code = textwrap.dedent(
        """
        import sys
        from pathlib import Path
        from training.gpu_manager import GPUManager, GPUReading, gpu_locks
        manager = GPUManager(lambda: [GPUReading(0, 0, 16000, 0)], gpu_locks(sys.argv[1] or None, Path(sys.argv[2])))
        with manager.acquire(wait_s=0) as gpu:
            print(gpu, flush=True)
            sys.stdin.read()  # hold the GPU until the test closes stdin
        """
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", holder_code, redis_url or "", str(lock_dirname)],
        cwd=REPO_DIRNAME,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdin is not None
    try:
        assert holder.stdout.readline().strip() == "0"
        manager = GPUManager(readings(FREE), gpu_locks(redis_url, lock_dirname))
        with manager.acquire(wait_s=0) as gpu:
            assert gpu is None
    finally:
        holder.stdin.close()
        assert holder.wait(timeout=30) == 0
    with manager.acquire(wait_s=0) as gpu:
        assert gpu == 0


def test_waits_for_a_gpu_to_be_released(backend: tuple[str | None, Path]) -> None:
    manager = GPUManager(readings(FREE), gpu_locks(*backend), poll_interval_s=0.02)
    first_holding, got = threading.Event(), []

    def second_experiment() -> None:
        first_holding.wait()
        with manager.acquire(wait_s=10) as gpu:
            got.append(gpu)

    waiter = threading.Thread(target=second_experiment)
    waiter.start()
    with manager.acquire(wait_s=0) as gpu:
        assert gpu == 0
        first_holding.set()
        time.sleep(0.2)
        assert got == []
    waiter.join()
    assert got == [0]


def test_redis_lock_outlives_its_ttl_while_held_and_only_its_owner_releases_it(redis_url: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url)
    lock = RedisGPULock(client, "test:renewal", ttl_ms=300)
    assert lock.acquire()
    time.sleep(1.0)  # over three TTLs: only renewal keeps the key
    assert client.get("test:renewal") == lock.token.encode()
    assert not RedisGPULock(client, "test:renewal").acquire()
    client.set("test:renewal", "someone else")  # as if the lock had lapsed and been taken
    lock.release()
    assert client.get("test:renewal") == b"someone else"
    client.delete("test:renewal")


def test_redis_url_selects_redis_locks(monkeypatch: pytest.MonkeyPatch, redis_url: str) -> None:
    monkeypatch.setenv("REDIS_URL", redis_url)
    assert isinstance(GPUManager(readings()).lock_fn(0), RedisGPULock)


def test_readings_come_from_nvml(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_nvml = types.SimpleNamespace(
        NVMLError=RuntimeError,
        nvmlInit=lambda: None,
        nvmlShutdown=lambda: None,
        nvmlDeviceGetCount=lambda: 2,
        nvmlDeviceGetHandleByIndex=lambda index: index,
        nvmlDeviceGetMemoryInfo=lambda h: types.SimpleNamespace(used=(h + 1) * 2**30, total=16 * 2**30),
        nvmlDeviceGetUtilizationRates=lambda h: types.SimpleNamespace(gpu=40 * h),
    )
    monkeypatch.setitem(sys.modules, "pynvml", fake_nvml)
    assert gpu_manager.read_gpus() == [GPUReading(0, 1024, 16384, 0), GPUReading(1, 2048, 16384, 40)]


def test_readings_fall_back_to_nvidia_smi(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_driver() -> None:
        raise RuntimeError("NVML Shared Library Not Found")

    monkeypatch.setitem(sys.modules, "pynvml", types.SimpleNamespace(NVMLError=RuntimeError, nvmlInit=no_driver))
    smi = types.SimpleNamespace(stdout="0, 100, 16000, 3\n1, 9000, 16000, 88\n")
    monkeypatch.setattr(gpu_manager.subprocess, "run", lambda *args, **kwargs: smi)
    assert gpu_manager.read_gpus() == [GPUReading(0, 100, 16000, 3), GPUReading(1, 9000, 16000, 88)]


def test_no_driver_means_no_readings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)  # as if nvidia-ml-py were not installed

    def missing(*args, **kwargs):
        raise FileNotFoundError("nvidia-smi")

    monkeypatch.setattr(gpu_manager.subprocess, "run", missing)
    assert gpu_manager.read_gpus() == []
