"""Base class for data sets: where their files live, and how raw files are fetched and verified.

Each data set names a folder under `data/raw/` whose `metadata.toml` gives the `url`, `filename` and `sha256`
of its raw file. When `TEXT_RECOGNIZER_DATA_MIRROR` points at a folder laid out like `data/raw/`, the raw file
and its checksum are taken from `<mirror>/<name>/` instead, and nothing is downloaded.

    >>> from text_recognizer.datasets import EmnistDataset
    >>> EmnistDataset().raw_file()  # downloads or finds the file, verifies its SHA-256
    PosixPath('.../matlab.zip')
"""

import functools
import hashlib
import http.client
import json
import os
import ssl
import time
import urllib.request
from pathlib import Path
from typing import Any

import h5py
import toml
from tqdm import tqdm

from text_recognizer.http_deadline import DeadlineHTTPConnection, DeadlineHTTPSConnection
from text_recognizer.util import atomic_path, sha256_of

DATA_DIRNAME = Path(__file__).resolve().parents[2] / "data"
MIRROR_ENV_VAR = "TEXT_RECOGNIZER_DATA_MIRROR"
_CHUNK_SIZE = 1 << 20
# Seconds a whole raw-file download may take: the largest (IAM's, 136 MB) at a slow 100 kB/s, and some.
DOWNLOAD_TIMEOUT = 3 * 3600.0


class DataError(RuntimeError):
    """A raw data file is missing, cannot be fetched, or is not the file its metadata describes."""


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

    def read_splits(self, cache: h5py.File) -> None:
        """Set `x_train`, `y_train`, `x_val`, `y_val`, `x_test`, `y_test` from an open cache file, for each split it
        holds (as `x_<split>`, `y_<split>`, split train, validation or test)."""
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

    def load_or_generate_data(self) -> None:
        raise NotImplementedError
