"""Reading collections (`text_recognizer.batch`, `cli read`): output names, atomic outputs, failures reported and
skipped, resuming a stopped run (in one process and in two), and Ray Data on two local CPUs."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from text_recognizer import batch, cli
from text_recognizer.documents import FORMATS, Format
from text_recognizer.documents.model import Document, Page
from text_recognizer.predictors.base import Line, Prediction, Word

SUPPORT_DIRNAME = Path(__file__).parent / "support"
ALL_FORMATS = tuple(FORMATS)
REPO_DIRNAME = Path(__file__).resolve().parents[2]


def _copies(folder: Path, kind: str, count: int) -> list[Path]:
    """`count` copies of the support images of `kind` (iam_lines, iam_paragraphs) in `folder`, named 00-..., 01-..."""
    images = sorted((SUPPORT_DIRNAME / kind).glob("*.png"))
    folder.mkdir(parents=True, exist_ok=True)
    copies = [folder / f"{i:02d}-{images[i % len(images)].name}" for i in range(count)]
    for i, copy in enumerate(copies):
        shutil.copy(images[i % len(images)], copy)
    return copies


def _page(text: str = "a word") -> Page:
    image = np.full((60, 200), 255, np.uint8)
    line = Line((10, 10, 180, 40), text, 0.9, words=(Word((10, 10, 80, 40), text.split()[0], 0.9),))
    return Page(200, 60, Prediction(text, 0.9, (line,)), dpi=300, image=image)


def _files(folder: Path) -> list[str]:
    return sorted(path.relative_to(folder).as_posix() for path in folder.rglob("*") if path.is_file())


def test_output_paths_name_each_format_and_a_page_xml_for_each_page() -> None:
    out = Path("out")
    assert [path.as_posix() for path in batch.output_paths("box/scan", out, ALL_FORMATS, 1)] == [
        "out/box/scan.txt", "out/box/scan.json", "out/box/scan.alto.xml", "out/box/scan.page.xml",
        "out/box/scan.hocr", "out/box/scan.pdf",
    ]  # fmt: skip
    assert [path.name for path in batch.output_paths("scan", out, ["page", "txt"], 3)] == [
        "scan.p1.page.xml", "scan.p2.page.xml", "scan.p3.page.xml", "scan.txt"
    ]  # fmt: skip


def test_find_inputs_keeps_folders_apart_and_refuses_colliding_stems(tmp_path: Path) -> None:
    line = SUPPORT_DIRNAME / "iam_lines" / "a01-014-00.png"
    for name in ("a/scan.png", "b/scan.PNG", "b/c/other.jpg", ".hidden/x.png", "b/.x.png"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(line, tmp_path / name)
    (tmp_path / "notes.txt").write_text("not an input")
    assert [item.stem for item in batch.find_inputs([tmp_path])] == ["a/scan", "b/c/other", "b/scan"]
    with pytest.raises(batch.InputError, match="would write the same outputs"):
        batch.find_inputs([tmp_path / "a" / "scan.png", tmp_path / "b" / "scan.PNG"])
    with pytest.raises(batch.InputError, match="not a supported input"):
        batch.find_inputs([tmp_path / "notes.txt"])
    with pytest.raises(batch.InputError, match="no such file"):
        batch.find_inputs([tmp_path / "missing.png"])


def test_write_outputs_writes_each_page_of_a_long_document_and_a_manifest_last(tmp_path: Path) -> None:
    written = batch.write_outputs(Document("scan", (_page("one"), _page("two"))), tmp_path, ALL_FORMATS, "x/scan")
    assert written[-1] == batch.manifest_path("x/scan", tmp_path)
    assert {"x/scan.p1.page.xml", "x/scan.p2.page.xml", "x/scan.pdf", "x/scan.json"} <= set(_files(tmp_path))
    assert "x/scan.page.xml" not in _files(tmp_path)
    assert batch.finished_pages("x/scan", tmp_path, ALL_FORMATS) == 2
    (tmp_path / "x" / "scan.p2.page.xml").unlink()
    assert batch.finished_pages("x/scan", tmp_path, ["txt"]) == 2
    assert batch.finished_pages("x/scan", tmp_path, ALL_FORMATS) is None  # an output is missing: not finished


def test_a_failing_writer_leaves_no_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(document: Document) -> bytes:
        raise RuntimeError("the writer broke")

    monkeypatch.setitem(FORMATS, "hocr", Format(name="hocr", extension=".hocr", media_type="text/html", write=fail))
    with pytest.raises(RuntimeError, match="the writer broke"):
        batch.write_outputs(Document("scan", (_page(),)), tmp_path, ALL_FORMATS)
    assert _files(tmp_path) == []


def test_an_interrupted_write_leaves_whole_outputs_and_no_manifest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    replace, calls = os.replace, []

    def replace_twice(source: str, target: str) -> None:
        calls.append(target)
        if len(calls) > 2:
            raise KeyboardInterrupt
        replace(source, target)

    monkeypatch.setattr(os, "replace", replace_twice)
    with pytest.raises(KeyboardInterrupt):
        batch.write_outputs(Document("scan", (_page(),)), tmp_path, ALL_FORMATS)
    assert _files(tmp_path) == ["scan.json", "scan.txt"]  # no temporary file, no manifest
    assert json.loads((tmp_path / "scan.json").read_text())
    assert batch.finished_pages("scan", tmp_path, ALL_FORMATS) is None


def test_read_reports_a_corrupt_input_skips_it_and_sums_up(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _copies(tmp_path / "in", "iam_lines", 3)
    (tmp_path / "in" / "bad.png").write_bytes(b"not an image at all")
    status = cli.main(["read", str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--mode", "line"])
    assert status == 1
    err = capsys.readouterr().err
    assert f"{tmp_path / 'in' / 'bad.png'}\terror: " in err
    assert "Traceback" not in err
    assert "read 3 inputs (3 pages), skipped 0 finished, 1 failed" in err
    assert "pages/s" in err.splitlines()[-1]
    outputs = _files(tmp_path / "out")
    assert len([name for name in outputs if name.endswith(".txt")]) == 3
    assert not any(name.startswith("bad") for name in outputs)


def test_read_writes_each_page_of_a_tiff_and_a_pdf(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from PIL import Image

    lines = [Image.open(path) for path in sorted((SUPPORT_DIRNAME / "iam_lines").glob("*.png"))[:2]]
    (tmp_path / "in").mkdir()
    for name in ("scan.tif", "letter.pdf"):
        lines[0].save(tmp_path / "in" / name, save_all=True, append_images=lines[1:], resolution=300)
    assert cli.main(["read", str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--mode", "line"]) == 0
    assert "read 2 inputs (4 pages), skipped 0 finished, 0 failed" in capsys.readouterr().err
    for stem in ("scan", "letter"):
        assert batch.finished_pages(stem, tmp_path / "out", ALL_FORMATS) == 2
        assert (tmp_path / "out" / f"{stem}.p2.page.xml").is_file()
        assert len(json.loads((tmp_path / "out" / f"{stem}.json").read_text())["pages"]) == 2


def test_read_checks_its_arguments(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = SUPPORT_DIRNAME / "iam_lines" / "a01-014-00.png"
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["read", str(line), "--out", str(tmp_path), "--formats", "txt,docx"])
    assert exit_info.value.code == 2
    assert "unknown format 'docx'; choose from txt, json, alto, page, hocr, pdf" in capsys.readouterr().err
    (tmp_path / "a").mkdir()
    shutil.copy(line, tmp_path / "a" / "a01-014-00.png")
    assert cli.main(["read", str(line), str(tmp_path / "a"), "--out", str(tmp_path / "out")]) == 2
    assert "would write the same outputs" in capsys.readouterr().err
    assert cli.main(["read", "s3://bucket/scans", "--out", str(tmp_path / "out")]) == 2
    assert "needs --ray" in capsys.readouterr().err


def test_read_resumes_an_interrupted_run_without_reading_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import text_recognizer.documents as documents

    _copies(tmp_path / "in", "iam_lines", 20)
    argv = ["read", str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--mode", "line"]
    read_document, reads = documents.read_document, []

    def interrupted_after_7(*args: Any, **kwargs: Any) -> Document:
        reads.append(args)
        if len(reads) == 8:
            raise KeyboardInterrupt
        return read_document(*args, **kwargs)

    monkeypatch.setattr(documents, "read_document", interrupted_after_7)
    assert cli.main(argv) == 130
    assert len(list((tmp_path / "out" / batch.MANIFEST_DIRNAME).glob("*.json"))) == 7
    reads.clear()

    def counted(*args: Any, **kwargs: Any) -> Document:
        reads.append(args)
        return read_document(*args, **kwargs)

    monkeypatch.setattr(documents, "read_document", counted)
    assert cli.main(argv) == 0
    assert len(reads) == 13
    assert "read 13 inputs (13 pages), skipped 7 finished, 0 failed" in capsys.readouterr().err
    assert all(
        batch.finished_pages(f"{path.stem}", tmp_path / "out", ALL_FORMATS) for path in (tmp_path / "in").iterdir()
    )


def test_read_with_two_workers_resumes_a_run_stopped_with_ctrl_c(tmp_path: Path) -> None:
    # Enough inputs that the run is still reading when Ctrl-C comes: 20 were once all read before it was handled.
    copies = 80
    _copies(tmp_path / "in", "iam_paragraphs", copies)
    out = tmp_path / "out"
    argv = [sys.executable, "-m", "text_recognizer.cli", "read", str(tmp_path / "in"), "--out", str(out)]
    argv += ["--mode", "paragraph", "--workers", "2"]
    first = subprocess.Popen(argv, cwd=REPO_DIRNAME, start_new_session=True, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while len(list(out.glob(f"{batch.MANIFEST_DIRNAME}/*.json"))) < 2 and first.poll() is None:
        assert time.monotonic() < deadline, "the first run finished no input in 120 s"
        time.sleep(0.01)
    os.killpg(first.pid, signal.SIGINT)  # Ctrl-C: to the command and its workers
    _, err = first.communicate(timeout=60)
    assert first.returncode == 130, err
    assert "Traceback" not in err
    assert not [name for name in _files(out) if ".partial-" in name]
    finished = {path.stem: path.stat().st_mtime_ns for path in out.glob("*.txt")}
    assert 2 <= len(finished) < copies, "the first run was stopped too late to tell a resumed run from a new one"
    second = subprocess.run(argv, cwd=REPO_DIRNAME, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stderr
    left = copies - len(finished)
    assert f"read {left} inputs ({left} pages), skipped {len(finished)}" in second.stderr
    assert {stem: (out / f"{stem}.txt").stat().st_mtime_ns for stem in finished} == finished
    assert len(list(out.glob("*.txt"))) == copies


def test_read_collection_with_ray_on_two_local_cpus(tmp_path: Path) -> None:
    ray = pytest.importorskip("ray", reason="Ray is not installed (the batch group: pipenv sync --categories batch)")
    _copies(tmp_path / "in" / "box", "iam_lines", 3)
    (tmp_path / "in" / "bad.png").write_bytes(b"not an image")
    ray.init(num_cpus=2, include_dashboard=False)
    try:
        results = batch.read_collection_with_ray(str(tmp_path / "in"), tmp_path / "out", ALL_FORMATS, "line", 2)
        (tmp_path / "in" / "bad.png").unlink()
        again = batch.read_collection_with_ray(str(tmp_path / "in"), tmp_path / "out", ALL_FORMATS, "line", 2)
    finally:
        ray.shutdown()
    assert [(result.stem, result.pages, result.skipped) for result in results] == [
        ("bad", 0, False), ("box/00-a01-000x-00", 1, False), ("box/01-a01-014-00", 1, False),
        ("box/02-b01-049-06", 1, False),
    ]  # fmt: skip
    assert results[0].error and "not" in results[0].error.lower()
    assert all(result.error is None for result in results[1:])
    for result in results[1:]:
        assert all(path.is_file() for path in batch.output_paths(result.stem, tmp_path / "out", ALL_FORMATS, 1))
    assert [(result.stem, result.pages, result.skipped) for result in again] == [
        (result.stem, 1, True) for result in results[1:]
    ]


def test_read_with_ray_missing_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray: ImportError
    line = SUPPORT_DIRNAME / "iam_lines" / "a01-014-00.png"
    assert cli.main(["read", str(line), "--out", str(tmp_path), "--ray"]) == 2
    assert "install the batch group: pipenv sync --categories batch" in capsys.readouterr().err
