"""update_metadata.py and its task script, on copies of the FSDL handwriting metadata made under tmp_path."""

import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import toml

from training.update_metadata import main, replace_sha256

REPO_DIRNAME = Path(__file__).resolve().parents[2]
SCRIPT = REPO_DIRNAME / "training" / "update_metadata.py"
METADATA = REPO_DIRNAME / "data" / "raw" / "fsdl_handwriting" / "metadata.toml"
OLD_SHA256 = toml.load(METADATA)["sha256"]
NEW_EXPORT = b'{"content": "http://example.org/page.jpg", "annotation": null}\n'
NEW_SHA256 = hashlib.sha256(NEW_EXPORT).hexdigest()


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A raw-data folder: a copy of the project's FSDL metadata, and an export that differs from the one it names."""
    folder = tmp_path / "data" / "raw" / "fsdl_handwriting"
    folder.mkdir(parents=True)
    shutil.copyfile(METADATA, folder / "metadata.toml")
    (folder / "fsdl_handwriting.json").write_bytes(NEW_EXPORT)
    return folder


def _run(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, SCRIPT, *map(str, args)], capture_output=True, text=True, cwd=cwd)


def test_rewrites_only_the_hash(folder: Path) -> None:
    before = (folder / "metadata.toml").read_text()
    assert before.count("#") >= 1 and OLD_SHA256 != NEW_SHA256
    result = _run(folder / "metadata.toml")
    assert result.returncode == 0, result.stderr
    assert f"{OLD_SHA256} -> {NEW_SHA256}" in result.stdout
    after = (folder / "metadata.toml").read_text()
    assert after == before.replace(OLD_SHA256, NEW_SHA256)  # comments, order, other keys untouched
    assert toml.loads(after)["sha256"] == NEW_SHA256
    assert sorted(p.name for p in folder.iterdir()) == ["fsdl_handwriting.json", "metadata.toml"]  # no temp files
    again = _run(folder / "metadata.toml")
    assert again.returncode == 0 and "unchanged" in again.stdout


def test_keeps_trailing_comment_quotes_and_line_ends() -> None:
    text = "# data\r\nfilename = 'a.json'\r\n  sha256 = 'abc'  # of a.json\r\nurl = \"\"\r\n"
    assert replace_sha256(text, "f" * 64) == text.replace("abc", "f" * 64)


def test_file_option_copies_the_new_export(folder: Path, tmp_path: Path) -> None:
    new = tmp_path / "new_export.json"
    new.write_bytes(NEW_EXPORT + NEW_EXPORT)
    assert main([str(folder / "metadata.toml"), "--file", str(new)]) == 0
    assert (folder / "fsdl_handwriting.json").read_bytes() == NEW_EXPORT + NEW_EXPORT
    assert toml.load(folder / "metadata.toml")["sha256"] == hashlib.sha256(NEW_EXPORT + NEW_EXPORT).hexdigest()
    assert new.exists()  # copied, not moved
    assert sorted(p.name for p in folder.iterdir()) == ["fsdl_handwriting.json", "metadata.toml"]


def test_file_option_brings_the_first_export(folder: Path, tmp_path: Path) -> None:
    (folder / "fsdl_handwriting.json").unlink()
    new = tmp_path / "export.json"
    new.write_bytes(NEW_EXPORT)
    assert main([str(folder / "metadata.toml"), f"--file={new}"]) == 0
    assert (folder / "fsdl_handwriting.json").read_bytes() == NEW_EXPORT
    assert oct((folder / "fsdl_handwriting.json").stat().st_mode & 0o777) == oct(0o644)


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda f: (f / "metadata.toml").unlink(), "no such metadata file"),
        (lambda f: (f / "fsdl_handwriting.json").unlink(), "no such file: "),
        (lambda f: _edit(f, "filename"), "has no `filename`"),
        (lambda f: _edit(f, "sha256"), "has no `sha256`"),
        (lambda f: (f / "metadata.toml").write_text("not toml at all\n"), "not valid TOML"),
    ],
)
def test_errors_are_one_clear_line(folder: Path, setup: Callable[[Path], object], message: str) -> None:
    setup(folder)
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    result = _run(folder / "metadata.toml")
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and result.stdout == ""
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before  # nothing written


def test_missing_new_file_copies_nothing(folder: Path, tmp_path: Path) -> None:
    result = _run(folder / "metadata.toml", "--file", tmp_path / "nope.json")
    assert result.returncode == 2 and "nope.json" in result.stderr
    assert (folder / "fsdl_handwriting.json").read_bytes() == NEW_EXPORT
    assert toml.load(folder / "metadata.toml")["sha256"] == OLD_SHA256


def _edit(folder: Path, key: str) -> None:
    path = folder / "metadata.toml"
    path.write_text("".join(line for line in path.read_text().splitlines(True) if not line.startswith(key)))


def test_task_script_passes_arguments_relative_to_the_caller(tmp_path: Path) -> None:
    """The task script in a scratch copy of the repository layout, so the project's own metadata is never touched."""
    repo = tmp_path / "repo"
    (repo / "tasks").mkdir(parents=True)
    shutil.copy2(REPO_DIRNAME / "tasks" / "update_fsdl_paragraphs_metadata.sh", repo / "tasks")
    (repo / "training").symlink_to(REPO_DIRNAME / "training")
    (repo / "data" / "raw" / "fsdl_handwriting").mkdir(parents=True)
    shutil.copyfile(METADATA, repo / "data" / "raw" / "fsdl_handwriting" / "metadata.toml")
    caller = tmp_path / "elsewhere"
    caller.mkdir()
    (caller / "new.json").write_bytes(NEW_EXPORT)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run(
        [repo / "tasks" / "update_fsdl_paragraphs_metadata.sh", "--file", "new.json"],
        cwd=caller,
        capture_output=True,
        text=True,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert (repo / "data" / "raw" / "fsdl_handwriting" / "fsdl_handwriting.json").read_bytes() == NEW_EXPORT
    assert toml.load(repo / "data" / "raw" / "fsdl_handwriting" / "metadata.toml")["sha256"] == NEW_SHA256
    assert toml.load(METADATA)["sha256"] == OLD_SHA256
