"""Line models' contracts, without trained weights or data (their CTC decoding: test_decoding.py)."""

import json

import pytest

from text_recognizer.models.base import build_model
from text_recognizer.models.line_model import MAX_WIDTH_FACTOR, LineModel

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
