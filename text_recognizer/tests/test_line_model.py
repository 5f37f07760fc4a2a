"""Line models' contracts and CTC decoding, without trained weights or data."""

import json

import numpy as np
import pytest

from text_recognizer.models.base import build_model
from text_recognizer.models.line_model import MAX_WIDTH_FACTOR, LineModel
from text_recognizer.networks.ctc import ctc_decode

LINES = {"dataset": "EmnistLinesDataset", "dataset_args": {"max_length": 10}}


@pytest.fixture(scope="module", params=[("LineModel", "line_cnn_all_conv"), ("LineModelCtc", "line_lstm_ctc")])
def model(request: pytest.FixtureRequest) -> LineModel:
    name, network = request.param
    return build_model({**LINES, "model": name, "network": network})  # type: ignore[return-value]


def test_contract_is_data_a_predictor_needs(model: LineModel) -> None:
    contract = model.contract()
    height, width = model.data.input_shape
    assert contract["classes"] == model.data.mapping and contract["classes"][contract["blank"]] == "_"
    factor = MAX_WIDTH_FACTOR if model.variable_width else 1
    assert contract["preprocessing"] == {
        "method": "fixed_height_line",
        "height": height,
        "min_width": width,
        "max_width": width * factor,
    }
    json.dumps(contract)  # plain data, written into the artifact


def test_greedy_ctc_merges_repeats_and_drops_blanks() -> None:
    probabilities = np.eye(4)[[[0, 0, 3, 0, 1, 1, 3, 3], [3, 3, 3, 3, 3, 3, 3, 2]]] * 0.97 + 0.01
    sequences, confidences = ctc_decode(probabilities, blank_label=3)
    assert sequences == [[0, 0, 1], [2]]
    assert np.all(confidences > 0.5) and np.all(confidences <= 1)
    beam_sequences, _ = ctc_decode(probabilities, blank_label=3, beam_width=5)
    assert beam_sequences == sequences


def test_ctc_confidence_falls_with_ambiguity() -> None:
    clear = np.eye(3)[[[0, 2, 1, 2]]] * 0.97 + 0.01
    unsure = clear.copy()
    unsure[0, 2] = [0.01, 0.5, 0.49]  # "b" or nothing
    assert ctc_decode(unsure, 2)[1][0] < ctc_decode(clear, 2)[1][0]


def test_ctc_confidence_is_per_character_so_long_clear_lines_stay_sure() -> None:
    def clear(labels: list[int], probability: float = 0.95) -> np.ndarray:
        steps = np.full((2 * len(labels), 3), (1 - probability) / 2)
        steps[np.arange(0, 2 * len(labels), 2), labels] = probability
        steps[np.arange(1, 2 * len(labels), 2), 2] = probability  # a blank between labels
        return steps[None]

    short, long = ctc_decode(clear([0, 1]), 2)[1][0], ctc_decode(clear([0, 1] * 20), 2)[1][0]
    assert 0.9 < long <= 1 and abs(short - long) < 0.05
