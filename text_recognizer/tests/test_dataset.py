"""The data layer: download, verification, mirror use and cache keying, on small files made here."""

import hashlib
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from text_recognizer.datasets import dataset as dataset_module
from text_recognizer.datasets.dataset import ChecksumError, DataError, Dataset, download_url, fetch_url
from text_recognizer.tests.support.local_http import QuietHandler, serve_locally, trickling_server

PAYLOAD = b"handwriting " * 1000
PAYLOAD_SHA256 = hashlib.sha256(PAYLOAD).hexdigest()


class _Handler(QuietHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self.send_response(200)
        self.send_header("Content-Length", str(len(PAYLOAD)))
        self.end_headers()
        # /truncated promises the whole payload but stops half-way, as a dropped connection does.
        self.wfile.write(PAYLOAD[: len(PAYLOAD) // 2] if self.path == "/truncated" else PAYLOAD)


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    with serve_locally(_Handler) as url:
        yield url


def test_download_verifies_and_renames(server_url: str, tmp_path: Path) -> None:
    path = download_url(f"{server_url}/file.bin", tmp_path / "file.bin", PAYLOAD_SHA256)
    assert path.read_bytes() == PAYLOAD
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.bin"]


def test_checksum_mismatch_names_file_and_hashes(server_url: str, tmp_path: Path) -> None:
    with pytest.raises(ChecksumError) as info:
        download_url(f"{server_url}/file.bin", tmp_path / "file.bin", "0" * 64)
    message = str(info.value)
    assert "file.bin" in message and "0" * 64 in message and PAYLOAD_SHA256 in message
    assert list(tmp_path.iterdir()) == []


def test_interrupted_download_leaves_nothing(server_url: str, tmp_path: Path) -> None:
    with pytest.raises(DataError):
        download_url(f"{server_url}/truncated", tmp_path / "file.bin", PAYLOAD_SHA256)
    assert list(tmp_path.iterdir()) == []


def test_unreachable_url_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="Could not download"):
        download_url("http://127.0.0.1:9/nothing", tmp_path / "file.bin", PAYLOAD_SHA256, timeout=2)
    assert list(tmp_path.iterdir()) == []


TRICKLES = {
    # One byte every 0.1 s for 4 s: each read is quick, so only a deadline on the whole download stops it.
    "headers": (b"HTTP/1.1 200 OK\r\n", b"X-Slow: " + b"a" * 32),
    "body": (b"HTTP/1.1 200 OK\r\nContent-Length: 40\r\n\r\n", b"b" * 40),
}


@pytest.mark.parametrize("prompt, trickle", TRICKLES.values(), ids=TRICKLES.keys())
def test_a_trickling_server_is_given_up_on_at_the_total_timeout(prompt: bytes, trickle: bytes, tmp_path: Path) -> None:
    with trickling_server(prompt, trickle, interval=0.1) as url:
        start = time.monotonic()
        with pytest.raises(DataError, match="timed out"):
            fetch_url(f"{url}/file.bin", tmp_path / "file.bin", timeout=2, progress=False, total_timeout=1)
        elapsed = time.monotonic() - start
    assert elapsed < 2.5, f"the download took {elapsed:.1f} s against a total timeout of 1 s"
    assert list(tmp_path.iterdir()) == []


class _ToyDataset(Dataset):
    raw_name = "toy"


def _write_raw(folder: Path, payload: bytes, sha256: str | None = None, url: str = "") -> None:
    folder.mkdir(parents=True)
    (folder / "toy.bin").write_bytes(payload)
    sha = sha256 or hashlib.sha256(payload).hexdigest()
    (folder / "metadata.toml").write_text(f'url = "{url}"\nfilename = "toy.bin"\nsha256 = "{sha}"\n')


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(dataset_module, "DATA_DIRNAME", tmp_path / "data")
    monkeypatch.delenv(dataset_module.MIRROR_ENV_VAR, raising=False)
    return tmp_path / "data"


def test_mirror_supplies_file_and_checksum(data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write_raw(tmp_path / "mirror" / "toy", PAYLOAD)
    monkeypatch.setenv(dataset_module.MIRROR_ENV_VAR, str(tmp_path / "mirror"))
    assert _ToyDataset.raw_file() == tmp_path / "mirror" / "toy" / "toy.bin"
    assert _ToyDataset.raw_sha256() == PAYLOAD_SHA256
    assert not data_dir.exists()  # nothing downloaded or copied


def test_corrupt_mirror_file_is_refused(data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write_raw(tmp_path / "mirror" / "toy", PAYLOAD, sha256="f" * 64)
    monkeypatch.setenv(dataset_module.MIRROR_ENV_VAR, str(tmp_path / "mirror"))
    with pytest.raises(ChecksumError, match="toy.bin"):
        _ToyDataset.raw_file()


def test_mirror_without_the_data_set_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(dataset_module.MIRROR_ENV_VAR, str(tmp_path / "empty"))
    with pytest.raises(DataError, match="metadata.toml"):
        _ToyDataset.raw_file()


def test_without_mirror_downloads_once(data_dir: Path, server_url: str) -> None:
    raw = data_dir / "raw" / "toy"
    raw.mkdir(parents=True)
    (raw / "metadata.toml").write_text(
        f'url = "{server_url}/toy.bin"\nfilename = "toy.bin"\nsha256 = "{PAYLOAD_SHA256}"\n'
    )
    assert _ToyDataset.raw_file().read_bytes() == PAYLOAD
    assert _ToyDataset.raw_file() == raw / "toy.bin"


def test_emnist_cache_is_keyed_by_raw_checksum(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from text_recognizer.datasets import EmnistDataset

    names = set()
    for payload in (b"one", b"two"):
        mirror = tmp_path / payload.decode()
        folder = mirror / "emnist"
        folder.mkdir(parents=True)
        sha = hashlib.sha256(payload).hexdigest()
        (folder / "metadata.toml").write_text(f'url = ""\nfilename = "matlab.zip"\nsha256 = "{sha}"\n')
        monkeypatch.setenv(dataset_module.MIRROR_ENV_VAR, str(mirror))
        names.add(EmnistDataset().processed_filename().name)
    assert len(names) == 2
