"""The shipped character predictor on real EMNIST test-split images (see support/create_emnist_support_files.py)."""

import base64
from pathlib import Path

import cv2
import numpy as np
import pytest

from text_recognizer import cli
from text_recognizer.predictors import CharacterPredictor, Prediction
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


def test_reads_support_images(predictor: CharacterPredictor) -> None:
    # The first test-split image of each of 32 classes, not picked for the model: it reads 86.5% of the whole split.
    predictions = predictor.predict_batch(SUPPORT_FILES)
    correct = [p.text == _expected(path) for p, path in zip(predictions, SUPPORT_FILES, strict=True)]
    assert sum(correct) / len(correct) >= 0.8
    assert all(0 < p.confidence <= 1 and p.lines == () for p in predictions)
    # A right answer comes with more confidence than a wrong one, on average.
    right = np.mean([p.confidence for p, ok in zip(predictions, correct, strict=True) if ok])
    wrong = np.mean([p.confidence for p, ok in zip(predictions, correct, strict=True) if not ok] or [0.0])
    assert right > wrong


def test_every_input_form_agrees(predictor: CharacterPredictor) -> None:
    path = SUPPORT_FILES[0]
    data = path.read_bytes()
    data_url = "data:image/png;base64," + base64.b64encode(data).decode()
    results = [predictor.predict(source) for source in (path, str(path), data, data_url, read_image(path))]
    assert all(result == results[0] for result in results)


def test_dark_ink_on_a_larger_page_is_read_alike(predictor: CharacterPredictor) -> None:
    agree = 0
    for path in SUPPORT_FILES:
        image = read_image(path)
        # Enlarged, inverted and placed off-centre on a wider page: as a phone photo of one letter would be.
        large = cv2.resize(255 - image, (112, 112), interpolation=cv2.INTER_CUBIC)
        page = np.pad(large, ((30, 50), (80, 10)), constant_values=255)
        agree += predictor.predict(page).text == predictor.predict(image).text
    assert agree / len(SUPPORT_FILES) >= 0.9


def test_a_prediction_is_a_frozen_value(predictor: CharacterPredictor) -> None:
    prediction = predictor.predict(SUPPORT_FILES[0])
    assert isinstance(prediction, Prediction)
    with pytest.raises(AttributeError):
        prediction.text = "x"  # type: ignore[misc]


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
    assert "No artifact" in capsys.readouterr().err
