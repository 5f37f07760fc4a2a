"""`Dataset.load_cache`: damaged caches are rebuilt with a warning, and concurrent builders make one cache."""

import multiprocessing
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np
import pytest

from text_recognizer.datasets.dataset import CHECKSUM_ATTR, CacheWarning, Dataset


class _TinyDataset(Dataset):
    """A cache of two small splits; every build appends a line to `builds.log` beside the cache."""

    def __init__(self, path: Path, build_seconds: float = 0.0):
        self.path, self.build_seconds = path, build_seconds
        self.x_train = self.y_train = self.x_test = self.y_test = np.empty(0)

    def load_or_generate_data(self) -> None:
        self.load_cache(self.path, self._build)

    def _build(self, partial: Path) -> None:
        with (self.path.parent / "builds.log").open("a") as log:
            log.write(f"{partial.name}\n")
        time.sleep(self.build_seconds)  # long enough for a second process to find the cache missing too
        with h5py.File(partial, "w") as f:
            for split, size in (("train", 50), ("test", 10)):
                f.create_dataset(f"x_{split}", data=np.arange(size * 16, dtype=np.uint8).reshape(size, 4, 4))
                f.create_dataset(f"y_{split}", data=np.arange(size, dtype=np.int32) % 3)
            f.create_dataset("texts_train", data=["a line", "another"], dtype=h5py.string_dtype())
            f.attrs["stats"] = "{}"


def _builds(folder: Path) -> int:
    log = folder / "builds.log"
    return len(log.read_text().splitlines()) if log.exists() else 0


def _assert_valid(dataset: _TinyDataset) -> None:
    assert dataset.x_train.shape == (50, 4, 4) and dataset.y_test.shape == (10,)
    assert dataset.x_train.reshape(-1)[-1] == (50 * 16 - 1) % 256


def test_a_cache_is_built_once_with_a_checksum(tmp_path: Path) -> None:
    path = tmp_path / "tiny.h5"
    _TinyDataset(path).load_or_generate_data()
    with h5py.File(path, "r") as f:
        assert len(f.attrs[CHECKSUM_ATTR]) == 64
    dataset = _TinyDataset(path)
    arrays, attrs = dataset.load_cache(path, dataset._build)
    _assert_valid(dataset)
    assert list(arrays["texts_train"]) == ["a line", "another"] and attrs == {"stats": "{}"}
    assert _builds(tmp_path) == 1
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")) == ["builds.log", "tiny.h5"]


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _garble(path: Path) -> None:
    path.write_bytes(b"not an HDF5 file at all" * 100)


def _flip_a_byte(path: Path) -> None:
    with h5py.File(path, "r+") as f:  # the file stays readable: only the checksum can tell
        f["y_train"][0] += 1


@pytest.mark.parametrize("damage", [_truncate, _garble, _flip_a_byte], ids=["truncated", "garbage", "altered"])
def test_a_damaged_cache_is_rebuilt_with_a_warning(tmp_path: Path, damage: Callable[[Path], None]) -> None:
    path = tmp_path / "tiny.h5"
    _TinyDataset(path).load_or_generate_data()
    damage(path)
    dataset = _TinyDataset(path)
    with pytest.warns(CacheWarning, match="Rebuilding the cache .*tiny.h5"):
        dataset.load_or_generate_data()
    _assert_valid(dataset)
    assert _builds(tmp_path) == 2
    _TinyDataset(path).load_or_generate_data()  # repaired: no further build
    assert _builds(tmp_path) == 2


def test_a_cache_without_a_checksum_is_read_as_it_is(tmp_path: Path) -> None:
    """Caches made before caches carried a checksum are not rebuilt for lacking one."""
    path = tmp_path / "tiny.h5"
    _TinyDataset(path).load_or_generate_data()
    with h5py.File(path, "r+") as f:
        del f.attrs[CHECKSUM_ATTR]
    dataset = _TinyDataset(path)
    dataset.load_or_generate_data()
    _assert_valid(dataset)
    assert _builds(tmp_path) == 1


def _load_in_a_process(path: Path, copy_to: Path) -> None:
    dataset = _TinyDataset(path, build_seconds=1.0)
    dataset.load_or_generate_data()
    _assert_valid(dataset)
    shutil.copy(path, copy_to)  # what this process found under the cache's name once it had loaded


def test_two_processes_building_one_cache_make_it_once(tmp_path: Path) -> None:
    path = tmp_path / "cache" / "tiny.h5"
    path.parent.mkdir()
    context = multiprocessing.get_context("spawn")  # fresh interpreters, as two training runs would be
    processes = [context.Process(target=_load_in_a_process, args=(path, tmp_path / f"seen_{i}.h5")) for i in range(2)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0
    assert _builds(path.parent) == 1
    assert (tmp_path / "seen_0.h5").read_bytes() == (tmp_path / "seen_1.h5").read_bytes() == path.read_bytes()
    assert not list(path.parent.glob(".partial-*"))
