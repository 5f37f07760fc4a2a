"""The character n-gram language model, and CTC beam search that weighs readings with it."""

import math
from pathlib import Path

import numpy as np
import pytest

from text_recognizer.language_model import CharNgramModel
from text_recognizer.models.base import WEIGHTS_DIRNAME, build_model
from text_recognizer.models.line_model_ctc import LineModelCtc
from text_recognizer.networks.ctc import ctc_decode

ALPHABET = "abcdehlort "
TEXT = "the cat ate the bread and the hare ate the carrot " * 20


@pytest.fixture(scope="module")
def language_model() -> CharNgramModel:
    return CharNgramModel.fit(TEXT.replace("n", "").replace("i", ""), ALPHABET, order=4)


def test_probabilities_are_a_distribution_favouring_what_the_text_goes_on_with(language_model: CharNgramModel) -> None:
    for context in ("", "t", "the ca", "xyz th", "rrrrrr"):  # unseen and foreign contexts too
        probabilities = language_model.probabilities(context)
        assert probabilities.shape == (len(ALPHABET),) and math.isclose(probabilities.sum(), 1.0)
        assert probabilities.min() > 0  # nothing is ruled out, so no reading gets an infinite cost
    assert ALPHABET[language_model.probabilities(" th").argmax()] == "e"
    assert language_model.probabilities("the carr")[ALPHABET.index("o")] > 0.9


def test_save_and_load_give_the_same_model(language_model: CharNgramModel, tmp_path: Path) -> None:
    loaded = CharNgramModel.load(language_model.save(tmp_path / "lm.npz"))
    assert loaded.alphabet == ALPHABET and loaded.order == 4
    assert np.allclose(loaded.probabilities("he ha"), language_model.probabilities("he ha"))
    assert [path.name for path in tmp_path.iterdir()] == ["lm.npz"]  # no partial file left behind


def test_text_outside_the_alphabet_is_refused() -> None:
    with pytest.raises(ValueError, match="outside the alphabet"):
        CharNgramModel.fit("the dog", ALPHABET, order=3)


def test_beam_search_without_a_language_model_reads_as_greedy_does() -> None:
    probabilities = np.eye(4)[[[0, 0, 3, 0, 1, 1, 3, 3], [3, 3, 3, 3, 3, 3, 3, 2]]] * 0.97 + 0.01
    greedy, _ = ctc_decode(probabilities, blank_label=3)
    searched, _ = ctc_decode(probabilities, blank_label=3, beam_width=4, scorer=lambda prefix: np.zeros(4))
    assert searched == greedy == [[0, 0, 1], [2]]


def test_the_language_model_settles_what_the_network_is_unsure_of() -> None:
    # Classes a, b and the blank: the network reads "a", then "a" or "b" at nearly even odds.
    probabilities = np.array([[[0.9, 0.05, 0.05], [0.05, 0.05, 0.9], [0.48, 0.46, 0.06], [0.05, 0.05, 0.9]]])
    assert ctc_decode(probabilities, 2)[0] == [[0, 0]]

    def prefers_b_after_a(prefix: tuple[int, ...]) -> np.ndarray:
        return np.log([0.1, 0.9, 1.0]) if prefix[-1:] == (0,) else np.log([0.5, 0.5, 1.0])

    assert ctc_decode(probabilities, 2, beam_width=4, scorer=prefers_b_after_a)[0] == [[0, 1]]


def test_line_model_decodes_with_the_shipped_language_model_its_config_names() -> None:
    config = {"dataset": "IamLinesDataset", "model": "LineModelCtc", "network": "line_lstm_ctc"}
    model = build_model({**config, "model_args": {"beam_width": 4, "language_model": "CharNgramModel_brown"}})
    assert isinstance(model, LineModelCtc) and model.language_model is not None
    probabilities = np.full((1, 40, model.data.num_classes), 1e-4)
    probabilities[0, :, model.data.padding_label] = 1.0
    for step, char in zip(range(1, 40, 8), "the c", strict=True):
        probabilities[0, step] = 1e-4
        probabilities[0, step, model.data.inverse_mapping[char]] = 1.0
    sequences, confidences = model.decode(probabilities / probabilities.sum(axis=-1, keepdims=True))
    assert model.labels_to_text(sequences[0]) == "the c" and 0.9 < confidences[0] <= 1


@pytest.mark.parametrize(
    "model_args, message",
    [
        ({"language_model": "no_such_model"}, "No language model 'no_such_model'"),
        ({"beam_width": 0}, "beam_width must be at least 1"),
        ({"beam_size": 4}, "unexpected keyword argument 'beam_size'"),
    ],
)
def test_bad_decoder_args_are_clear_errors(model_args: dict, message: str) -> None:
    config = {"dataset": "IamLinesDataset", "model": "LineModelCtc", "network": "line_lstm_ctc"}
    with pytest.raises(ValueError, match=message):
        build_model({**config, "model_args": model_args})


def test_a_language_model_over_other_characters_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    CharNgramModel.fit("abc", "abc", order=2).save(tmp_path / "abc.npz")
    monkeypatch.setattr("text_recognizer.models.line_model_ctc.WEIGHTS_DIRNAME", tmp_path)
    config = {"dataset": "IamLinesDataset", "model": "LineModelCtc", "network": "line_lstm_ctc"}
    with pytest.raises(ValueError, match="not over the characters of IamLinesDataset"):
        build_model({**config, "model_args": {"language_model": "abc"}})
    assert (WEIGHTS_DIRNAME / "CharNgramModel_brown.npz").is_file()
