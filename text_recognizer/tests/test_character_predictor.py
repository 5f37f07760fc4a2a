"""The shipped character predictor on real EMNIST test-split images (see support/create_emnist_support_files.py)."""

import base64
from pathlib import Path

import numpy as np
import pytest

from text_recognizer import cli
from text_recognizer.character_predictor import CharacterPredictor
from text_recognizer.util import ImageError, read_image

SUPPORT_DIRNAME = Path(__file__).parent / "support" / "emnist"
SUPPORT_FILES = sorted(SUPPORT_DIRNAME.glob("*.png"))


def _expected(path: Path) -> str:
    return path.stem.split("_")[1]


@pytest.fixture(scope="module")
def predictor() -> CharacterPredictor:
    return CharacterPredictor()


def test_support_files_exist() -> None:
    assert len(SUPPORT_FILES) >= 20


@pytest.mark.parametrize("path", SUPPORT_FILES, ids=lambda p: p.stem)
def test_predicts_support_image(predictor: CharacterPredictor, path: Path) -> None:
    char, confidence = predictor.predict(path)
    assert char == _expected(path)
    assert 0.5 < confidence <= 1.0


def test_every_input_form_agrees(predictor: CharacterPredictor) -> None:
    path = SUPPORT_FILES[0]
    data = path.read_bytes()
    data_url = "data:image/png;base64," + base64.b64encode(data).decode()
    results = [predictor.predict(source) for source in (path, str(path), data, data_url, read_image(path))]
    assert all(result == results[0] for result in results)


def test_dark_ink_on_light_paper_is_read_too(predictor: CharacterPredictor) -> None:
    for path in SUPPORT_FILES[:5]:
        image = read_image(path)
        page_like = np.pad(255 - image, 20, constant_values=255)  # larger, inverted: as a scan would be
        assert predictor.predict(page_like)[0] == _expected(path)


def test_batch_matches_single(predictor: CharacterPredictor) -> None:
    assert predictor.predict_batch(SUPPORT_FILES[:4]) == [predictor.predict(p) for p in SUPPORT_FILES[:4]]


def test_bad_image_is_an_image_error(predictor: CharacterPredictor) -> None:
    with pytest.raises(ImageError):
        predictor.predict(b"definitely not a png")


def test_cli_prints_predictions(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["predict", str(SUPPORT_FILES[0])]) == 0
    path, char, confidence = capsys.readouterr().out.strip().split("\t")
    assert (path, char) == (str(SUPPORT_FILES[0]), _expected(SUPPORT_FILES[0]))
    assert 0 < float(confidence) <= 1


def test_cli_reports_bad_files_without_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.png"
    bad.write_text("nope")
    assert cli.main(["predict", str(bad), str(SUPPORT_FILES[0])]) == 1
    captured = capsys.readouterr()
    assert "error: Not a readable image" in captured.err and "Traceback" not in captured.err
    assert _expected(SUPPORT_FILES[0]) in captured.out


def test_cli_unknown_model_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["predict", "--network", "nosuch", str(SUPPORT_FILES[0])]) == 2
    assert "No shipped model" in capsys.readouterr().err
