"""Base class for data sets: where their files live, and how raw files are fetched and verified.

Each data set names a folder under `data/raw/` whose `metadata.toml` gives the `url`, `filename` and `sha256`
of its raw file. When `TEXT_RECOGNIZER_DATA_MIRROR` points at a folder laid out like `data/raw/`, the raw file
and its checksum are taken from `<mirror>/<name>/` instead, and nothing is downloaded.

    >>> from text_recognizer.datasets import EmnistDataset
    >>> EmnistDataset().raw_file()  # downloads or finds the file, verifies its SHA-256
    PosixPath('.../matlab.zip')

What a data set derives from its raw file is cached under `data/processed/` by `Dataset.load_cache`: one process
builds a missing cache while others wait for it, and a cache that cannot be read or whose arrays no longer match the
checksum stored with them is rebuilt, with a `CacheWarning`.
"""

import functools
import hashlib
import http.client
import json
import os
import ssl
import time
import urllib.request
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import filelock
import h5py
import numpy as np
import toml
from tqdm import tqdm

from text_recognizer.http_deadline import DeadlineHTTPConnection, DeadlineHTTPSConnection
from text_recognizer.util import atomic_path, sha256_of

DATA_DIRNAME = Path(__file__).resolve().parents[2] / "data"
MIRROR_ENV_VAR = "TEXT_RECOGNIZER_DATA_MIRROR"
_CHUNK_SIZE = 1 << 20
# Seconds a whole raw-file download may take: the largest (IAM's, 136 MB) at a slow 100 kB/s, and some.
DOWNLOAD_TIMEOUT = 3 * 3600.0
# The attribute of a cache file that holds the SHA-256 of its arrays (see `arrays_sha256`).
CHECKSUM_ATTR = "arrays_sha256"


class DataError(RuntimeError):
    """A raw data file is missing, cannot be fetched, or is not the file its metadata describes."""


class CacheWarning(UserWarning):
    """A processed cache could not be read or failed its checksum, and is being rebuilt."""


class ChecksumError(DataError):
    """A file's SHA-256 differs from the one its metadata promises."""

    def __init__(self, path: Path, expected: str, actual: str):
        super().__init__(f"SHA-256 mismatch for {path}: expected {expected}, got {actual}")
        self.path, self.expected, self.actual = path, expected, actual


def fetch_url(
    url: str,
    path: Path,
    expected_sha256: str | None = None,
    timeout: float = 60.0,
    progress: bool = True,
    total_timeout: float = DOWNLOAD_TIMEOUT,
) -> Path:
    """Stream `url` to a temporary file, then rename it to `path`: the file appears under its name only once complete.

    `timeout` bounds each wait for the server, `total_timeout` the whole download (connecting, redirects, headers,
    body): a server that trickles its bytes cannot hold it for ever. A response shorter than its Content-Length, or
    (given `expected_sha256`) a different hash, is an error. Network and file errors become a `DataError` whose
    `__cause__` is the original exception (an `urllib.error.HTTPError` carries the status code). Whatever fails, no
    temporary file is left behind (see `util.atomic_path`).
    """
    deadline = time.monotonic() + total_timeout
    opener = urllib.request.build_opener(_DeadlineHTTPHandler(deadline), _DeadlineHTTPSHandler(deadline))
    try:
        with (
            atomic_path(path) as partial,
            opener.open(url, timeout=timeout) as response,  # noqa: S310 (URL comes from metadata)
        ):
            total = int(response.headers.get("Content-Length") or 0) or None
            with (
                open(partial, "wb") as f,
                tqdm(total=total, unit="B", unit_scale=True, desc=path.name, disable=not progress) as bar,
            ):
                for chunk in iter(lambda: response.read(_CHUNK_SIZE), b""):
                    f.write(chunk)
                    bar.update(len(chunk))
            if total is not None and partial.stat().st_size != total:
                raise DataError(f"Download of {url} stopped after {partial.stat().st_size} of {total} bytes")
            if expected_sha256 is not None:
                actual = sha256_of(partial)
                if actual != expected_sha256:
                    raise ChecksumError(path, expected_sha256, actual)
    except DataError:
        raise
    except Exception as e:  # network and file errors
        raise DataError(f"Could not download {url} to {path}: {e}") from e
    return path


def download_url(
    url: str, path: Path, expected_sha256: str, timeout: float = 60.0, total_timeout: float = DOWNLOAD_TIMEOUT
) -> Path:
    """Download `url` to `path` with a progress bar; the file appears under its name only once verified."""
    return fetch_url(url, path, expected_sha256, timeout, total_timeout=total_timeout)


class _DeadlineHTTPHandler(urllib.request.HTTPHandler):
    """urllib's HTTP handler on connections that end by `deadline` (a `time.monotonic()` time)."""

    def __init__(self, deadline: float):
        super().__init__()
        self.deadline = deadline

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(functools.partial(DeadlineHTTPConnection, deadline=self.deadline), req)


class _DeadlineHTTPSHandler(urllib.request.HTTPSHandler):
    """urllib's HTTPS handler (default TLS context, certificates verified) on connections that end by `deadline`."""

    def __init__(self, deadline: float):
        super().__init__()
        self.deadline = deadline
        self.context = ssl.create_default_context()

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        connection = functools.partial(DeadlineHTTPSConnection, deadline=self.deadline)
        return self.do_open(connection, req, context=self.context)


def arrays_sha256(arrays: Mapping[str, np.ndarray]) -> str:
    """SHA-256 over named arrays: each one's name, dtype, shape and contents, in name order (strings as UTF-8)."""
    digest = hashlib.sha256()
    for name in sorted(arrays):
        array = arrays[name]
        digest.update(f"{name}\0{array.dtype.str}\0{array.shape}\0".encode())
        if array.dtype == object:  # strings, read with `asstr()`
            digest.update("\0".join(array.ravel().tolist()).encode())
        else:
            digest.update(np.ascontiguousarray(array).reshape(-1).view(np.uint8).data)
    return digest.hexdigest()


def _read_cache(path: Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Every top-level array of an HDF5 cache (strings as `str`) and its attributes, with its checksum verified.

    A cache without a checksum (made before caches carried one) is taken as it reads.
    """
    with h5py.File(path, "r") as f:
        arrays, attrs = _arrays_of(f), dict(f.attrs)
    expected = attrs.pop(CHECKSUM_ATTR, None)
    if expected is not None and arrays_sha256(arrays) != expected:
        raise DataError(f"its arrays do not match the checksum stored with them ({expected})")
    return arrays, attrs


def _seal_cache(path: Path) -> None:
    """Store the checksum of a freshly written cache's arrays in it."""
    with h5py.File(path, "a") as f:
        f.attrs[CHECKSUM_ATTR] = arrays_sha256(_arrays_of(f))


def _arrays_of(f: h5py.File) -> dict[str, np.ndarray]:
    """Every top-level array of an open HDF5 file, read into memory (strings as `str`)."""
    return {
        name: item.asstr()[()] if h5py.check_string_dtype(item.dtype) else item[()]
        for name, item in f.items()
        if isinstance(item, h5py.Dataset)
    }


def read_metadata(folder: Path) -> dict[str, Any]:
    """The parsed `metadata.toml` of a raw-data folder."""
    metadata_path = folder / "metadata.toml"
    if not metadata_path.exists():
        raise DataError(f"No metadata.toml in {folder}")
    return toml.load(metadata_path)


class Dataset:
    """A data set whose raw file is described by `data/raw/<raw_name>/metadata.toml`.

    Subclasses set `raw_name`, `mapping` (class index -> character or name), `input_shape` and `preprocessing` (how
    an image becomes an input: a `text_recognizer.preprocessing` spec), and implement `load_or_generate_data()`;
    constructing one must stay cheap, since models are built from a data set's contract without loading it.
    """

    raw_name: str = ""
    mapping: list[str]
    input_shape: tuple[int, ...]
    preprocessing: dict[str, Any]

    def contract(self) -> dict[str, Any]:
        """What a model trained on this data set takes and gives, as plain data (written into its artifact): the
        classes, the padding label (CTC's blank for lines; None without one), the input shape and preprocessing."""
        return {
            "classes": list(self.mapping),
            "blank": getattr(self, "padding_label", None),
            "input_shape": list(self.input_shape),
            "preprocessing": dict(self.preprocessing),
        }

    @classmethod
    def data_dirname(cls) -> Path:
        return DATA_DIRNAME

    @classmethod
    def raw_dirname(cls) -> Path:
        return DATA_DIRNAME / "raw" / cls.raw_name

    @classmethod
    def metadata(cls) -> dict[str, Any]:
        """The metadata in force: the mirror's when a mirror is configured, else the project's own."""
        mirror = os.environ.get(MIRROR_ENV_VAR)
        return read_metadata(Path(mirror) / cls.raw_name if mirror else cls.raw_dirname())

    @classmethod
    def raw_file(cls) -> Path:
        """Path of the verified raw file, downloading it first when there is no mirror and no local copy."""
        mirror = os.environ.get(MIRROR_ENV_VAR)
        metadata = cls.metadata()
        if mirror:
            path = Path(mirror) / cls.raw_name / metadata["filename"]
            if not path.exists():
                raise DataError(f"{MIRROR_ENV_VAR}={mirror} has no {cls.raw_name}/{metadata['filename']}")
        else:
            path = cls.raw_dirname() / metadata["filename"]
            if not path.exists():
                download_url(metadata["url"], path, metadata["sha256"])
        actual = sha256_of(path)
        if actual != metadata["sha256"]:
            raise ChecksumError(path, metadata["sha256"], actual)
        return path

    def load_cache(self, path: Path, build: Callable[[Path], None]) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """The arrays (strings as `str`) and attributes of the HDF5 cache at `path`, its splits set as `read_splits`
        sets them; `build(partial)` writes the cache to the file `partial` first when it is missing or broken.

        One process builds while any other that wants the same cache waits on a lock beside it, then reads what the
        first one built. The cache is written to a temporary file, given the checksum of its arrays and renamed, so a
        cache is never seen half-written; one that cannot be read anyway (truncated, overwritten) or whose arrays no
        longer match their checksum is rebuilt, with a `CacheWarning`, rather than failing every later load.
        """
        cache, problem = self._try_read_cache(path)
        if cache is None:
            path.parent.mkdir(parents=True, exist_ok=True)
            with filelock.FileLock(path.with_name(f".{path.name}.lock")):
                # Read again: another process may have built (or repaired) the cache while this one waited.
                cache, problem = self._try_read_cache(path)
                if cache is None:
                    if problem is not None:
                        warnings.warn(f"Rebuilding the cache {path}: {problem}", CacheWarning, stacklevel=2)
                    with atomic_path(path) as partial:
                        build(partial)
                        _seal_cache(partial)
                    cache = _read_cache(path)
        self.read_splits(cache[0])
        return cache

    @staticmethod
    def _try_read_cache(path: Path) -> tuple[tuple[dict[str, np.ndarray], dict[str, Any]] | None, str | None]:
        """(the cache, None) if it reads and verifies; (None, None) if there is none; else (None, what is wrong)."""
        if not path.exists():
            return None, None
        try:
            return _read_cache(path), None
        # h5py raises OSError on most damage, but KeyError, ValueError or RuntimeError on some: any failure to read
        # a cache means it must be made again.
        except Exception as e:
            return None, str(e) or type(e).__name__

    def read_splits(self, cache: h5py.File | Mapping[str, np.ndarray]) -> None:
        """Set `x_train`, `y_train`, `x_val`, `y_val`, `x_test`, `y_test` from an open cache file or its arrays, for
        each split it holds (as `x_<split>`, `y_<split>`, split train, validation or test)."""
        for split, name in (("train", "train"), ("validation", "val"), ("test", "test")):
            if f"x_{split}" in cache:
                setattr(self, f"x_{name}", cache[f"x_{split}"][:])
                setattr(self, f"y_{name}", cache[f"y_{split}"][:])

    @classmethod
    def cache_filename(cls, folder: str, params: dict[str, Any]) -> Path:
        """`data/processed/<folder>/<key>.h5`, the key a hash of everything the cache depends on (`params`, which
        include the raw file's hash), so that a cache made differently is never mistaken for this one."""
        key = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:16]
        return cls.data_dirname() / "processed" / folder / f"{key}.h5"

    @classmethod
    def raw_sha256(cls) -> str:
        """The SHA-256 of the raw file in force, the key for every cache derived from it."""
        return cls.metadata()["sha256"]

    def seed_augmentation(self, seed: int) -> None:
        """Restart the random stream that `augment_batch` draws from, in data sets that augment (default seed 0)."""
        self._rng = np.random.default_rng(seed)

    def load_or_generate_data(self) -> None:
        raise NotImplementedError
