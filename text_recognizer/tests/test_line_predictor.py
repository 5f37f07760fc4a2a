"""The shipped line predictors on test-split lines: EMNIST Lines' and IAM's (see support/create_*_support_files.py)."""

import base64
import json
from pathlib import Path

import numpy as np
import pytest

from text_recognizer.metrics import character_error_rate
from text_recognizer.predictors import LinePredictor
from text_recognizer.util import ImageError, read_image

SUPPORT_DIRNAME = Path(__file__).parent / "support" / "emnist_lines"
TEXTS = json.loads((SUPPORT_DIRNAME / "texts.json").read_text())
# A line may lose a character or two to EMNIST's look-alikes (o/O/0, l/I/1); over all lines the rate must be low.
MAX_LINE_CER = 0.25
# Over all support lines of each data set; IAM's real handwriting by unseen writers is harder (see README's results).
MAX_MEAN_CER = {"emnist_lines": 0.1, "iam_lines": 0.12}
IAM_SUPPORT_DIRNAME = SUPPORT_DIRNAME.parent / "iam_lines"
IAM_TEXTS = json.loads((IAM_SUPPORT_DIRNAME / "texts.json").read_text())
# Real lines by writers never seen in training: one line may be read badly, but not wholly wrongly (with the shipped
# decoder they read at 0% to 24%, 9.4% over all).
IAM_MAX_LINE_CER = 0.3


@pytest.fixture(scope="module")
def predictor() -> LinePredictor:
    return LinePredictor("emnist_lines")


def _cer_of_variants(predictor: LinePredictor, variant) -> float:
    """Character error rate over all support lines after `variant` changes each image."""
    predictions, targets = [], []
    for name, text in TEXTS.items():
        prediction = predictor.predict(variant(read_image(SUPPORT_DIRNAME / name)))
        predicted = prediction.text
        assert 0 <= prediction.confidence <= 1 and [line.text for line in prediction.lines] == [predicted]
        assert " ".join(word.text for word in prediction.lines[0].words) == predicted
        assert character_error_rate([predicted], [text]) <= MAX_LINE_CER, (predicted, text)
        predictions.append(predicted)
        targets.append(text)
    return character_error_rate(predictions, targets)


def test_support_files_exist() -> None:
    assert len(TEXTS) >= 5 and all((SUPPORT_DIRNAME / name).is_file() for name in TEXTS)


@pytest.mark.parametrize(
    "variant",
    [
        pytest.param(lambda image: image, id="cropped-to-ink"),
        pytest.param(lambda image: np.pad(image, ((0, 0), (0, 600))), id="padded-wider-than-training"),
        pytest.param(lambda image: image[:, : image.shape[1] - 3], id="cropped-tight"),
        pytest.param(
            lambda image: np.pad(255 - image, ((0, 0), (0, 200)), constant_values=255), id="dark-ink-on-paper"
        ),
        pytest.param(lambda image: np.repeat(np.repeat(image, 2, axis=0), 2, axis=1), id="twice-the-resolution"),
    ],
)
def test_reads_support_lines(predictor: LinePredictor, variant) -> None:
    assert _cer_of_variants(predictor, variant) <= MAX_MEAN_CER["emnist_lines"]


def test_every_input_form_agrees(predictor: LinePredictor) -> None:
    path = SUPPORT_DIRNAME / next(iter(TEXTS))
    data = path.read_bytes()
    data_url = "data:image/png;base64," + base64.b64encode(data).decode()
    results = [predictor.predict(source) for source in (path, str(path), data, data_url, read_image(path))]
    assert all(result == results[0] for result in results)


def test_batch_matches_single(predictor: LinePredictor) -> None:
    paths = [SUPPORT_DIRNAME / name for name in TEXTS]
    batch = predictor.predict_batch(paths)
    for prediction, path in zip(batch, paths, strict=True):
        single = predictor.predict(path)
        assert prediction.text == single.text and prediction.confidence == pytest.approx(single.confidence, rel=1e-4)


def test_beam_search_reads_as_well() -> None:
    predictor = LinePredictor("emnist_lines", decoder={"beam_width": 10})
    predictions = [predictor.predict(SUPPORT_DIRNAME / name).text for name in TEXTS]
    assert character_error_rate(predictions, list(TEXTS.values())) <= MAX_MEAN_CER["emnist_lines"]


def test_unknown_dataset_is_a_clear_error() -> None:
    with pytest.raises(FileNotFoundError, match="No artifact 'nosuch'"):
        LinePredictor("nosuch")


def test_bad_decoder_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="Unknown decoder settings"):
        LinePredictor("emnist_lines", decoder={"beam": 4})


def test_bad_image_is_an_image_error(predictor: LinePredictor) -> None:
    with pytest.raises(ImageError):
        predictor.predict(b"definitely not a png")


@pytest.fixture(scope="module")
def iam_predictor() -> LinePredictor:
    predictor = LinePredictor("iam")
    assert predictor.artifact.name == "LineModelCtc_IamLinesDataset_line_lstm_ctc"
    # The artifact decodes with the Brown language model, a file it carries.
    assert predictor.artifact.file(predictor.artifact.spec["decoder"]["language_model"]).is_file()
    return predictor


@pytest.mark.parametrize(
    "variant",
    [
        pytest.param(lambda image: image, id="as-scanned"),
        pytest.param(lambda image: 255 - image, id="light-ink-on-dark"),
    ],
)
def test_reads_iam_support_lines(iam_predictor: LinePredictor, variant) -> None:
    predictions = [iam_predictor.predict(variant(read_image(IAM_SUPPORT_DIRNAME / name))).text for name in IAM_TEXTS]
    for predicted, text in zip(predictions, IAM_TEXTS.values(), strict=True):
        assert character_error_rate([predicted], [text]) <= IAM_MAX_LINE_CER, (predicted, text)
    assert character_error_rate(predictions, list(IAM_TEXTS.values())) <= MAX_MEAN_CER["iam_lines"], predictions


def test_the_line_model_is_chosen_by_name_or_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from text_recognizer.predictors import LINE_MODEL_ENV_VAR, load_predictor

    emnist = "LineModelCtc_EmnistLinesDataset_line_lstm_ctc"
    assert load_predictor("line", line_model=emnist).artifact.name == emnist  # type: ignore[attr-defined]
    monkeypatch.setenv(LINE_MODEL_ENV_VAR, emnist)
    assert load_predictor("line").artifact.name == emnist  # type: ignore[attr-defined]
    assert load_predictor("page").line_predictor.artifact.name == emnist  # type: ignore[attr-defined]


def test_cli_refuses_an_unknown_line_model(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from text_recognizer.cli import main
    from text_recognizer.predictors import LINE_MODEL_ENV_VAR

    monkeypatch.delenv(LINE_MODEL_ENV_VAR, raising=False)
    line = str(next(SUPPORT_DIRNAME.glob("*.png")))
    assert main(["predict", "--mode", "line", "--line-model", "no_such_model", line]) == 2
    assert "no_such_model" in capsys.readouterr().err
