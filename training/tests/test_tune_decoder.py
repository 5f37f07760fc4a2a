"""tune_decoder on the shipped IAM line model: it picks a decoder on the validation split and, with --save, ships it."""

import json
import shutil
from pathlib import Path

import pytest

from text_recognizer.models.base import WEIGHTS_DIRNAME
from training.tune_decoder import main

MODEL = "LineModelCtc_IamLinesDataset_line_lstm_ctc"


@pytest.fixture()
def weights_dirname(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the shipped IAM line model and language model, which the test may rewrite."""
    for name in (f"{MODEL}.json", f"{MODEL}.weights.h5", "CharNgramModel_brown.npz"):
        shutil.copy(WEIGHTS_DIRNAME / name, tmp_path / name)
    monkeypatch.setattr("text_recognizer.models.base.WEIGHTS_DIRNAME", tmp_path)
    monkeypatch.setattr("text_recognizer.models.line_model_ctc.WEIGHTS_DIRNAME", tmp_path)
    return tmp_path


def test_the_chosen_decoder_is_saved_with_its_record(weights_dirname: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = json.loads((weights_dirname / f"{MODEL}.json").read_text())
    args = [MODEL, "--lm-weights", "0.4", "--length-bonuses", "0.0", "0.6", "--beam-width", "4", "--save"]
    assert main(args) == 0
    output = capsys.readouterr().out.splitlines()
    info = json.loads((weights_dirname / f"{MODEL}.json").read_text())
    grid = info["decoder"]["validation_grid"]
    assert [row["length_bonus"] for row in grid] == [0.0, 0.6]
    best = min(grid, key=lambda row: row["cer"])
    expected = {"beam_width": 4, "language_model": "CharNgramModel_brown", "lm_weight": 0.4}
    assert info["config"]["model_args"] == {**expected, "length_bonus": best["length_bonus"]}
    assert output[-1] == f"cer: {info['decoder']['test']['cer']:.4f}"
    # The language model helps: fewer errors than the greedy best path, on the test split it was not tuned on.
    assert info["decoder"]["test"]["cer"] < info["decoder"]["test_greedy"]["cer"]
    assert info["command"] == before["command"] and info["decoder"]["command"].endswith("--save")


def test_a_model_that_is_not_ctc_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["CharacterModel_EmnistDataset_mlp"]) == 2
    assert "not a LineModelCtc" in capsys.readouterr().err
