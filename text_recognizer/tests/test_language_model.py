"""The character n-gram language model, its ARPA form (which KenLM must score exactly as it does), and CTC beam
search that weighs readings with it."""

import math
from pathlib import Path

import numpy as np
import pytest
from flashlight.lib.text.decoder.kenlm import KenLM
from flashlight.lib.text.dictionary import Dictionary

from text_recognizer.decoding import CtcDecoder
from text_recognizer.decoding.arpa import SPACE_TOKEN, read_arpa_summary
from text_recognizer.language_model import CharNgramModel, arpa_file
from text_recognizer.models.base import WEIGHTS_DIRNAME, build_model
from text_recognizer.models.line_model_ctc import LineModelCtc

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


def kenlm_log10(arpa: Path, alphabet: str, text: str) -> tuple[list[np.ndarray], float]:
    """KenLM's log10 P of each character of `alphabet` after the line's start and each prefix of `text`, and of the
    line's end after all of it."""
    language_model = KenLM(str(arpa), Dictionary([SPACE_TOKEN if char == " " else char for char in alphabet]))
    state, scores = language_model.start(False), []
    for char in text + "\n":
        scores.append(np.array([language_model.score(state, i)[1] for i in range(len(alphabet))]))
        if char != "\n":
            state = language_model.score(state, alphabet.index(char))[0]
    return scores, language_model.finish(state)[1]


def assert_kenlm_scores_as_the_model(language_model: CharNgramModel, arpa: Path, texts: list[str]) -> None:
    """KenLM reading `arpa` gives each character the model's probability after " " and the text before it, and the
    line's end what a space would get."""
    space = language_model.alphabet.index(" ")
    for text in texts:
        scores, end = kenlm_log10(arpa, language_model.alphabet, text)
        for i, score in enumerate(scores):
            expected = np.log10(language_model.probabilities(" " + text[:i]))
            assert np.allclose(score, expected, atol=1e-5, rtol=0), (text, i)
        assert end == pytest.approx(np.log10(language_model.probabilities(" " + text)[space]), abs=1e-5)


@pytest.mark.parametrize("name", ["lm.arpa", "lm.arpa.gz"])
def test_the_arpa_file_scores_as_the_model_does(language_model: CharNgramModel, tmp_path: Path, name: str) -> None:
    arpa = language_model.write_arpa(tmp_path / name)
    rng = np.random.default_rng(0)
    # Seen and unseen contexts, and contexts longer than the model's (3 characters).
    texts = ["the carrot", "he ate  ", "", "trr cc"] + ["".join(rng.choice(list(ALPHABET), 8)) for _ in range(20)]
    assert_kenlm_scores_as_the_model(language_model, arpa, texts)
    summary = read_arpa_summary(arpa)
    assert summary.vocabulary == {*ALPHABET.replace(" ", SPACE_TOKEN), "<s>", "</s>", "<unk>"}
    assert summary.metadata["order"] == "4" and [path.name for path in tmp_path.iterdir()] == [name]


def test_the_shipped_models_arpa_file_scores_as_it_does() -> None:
    path = arpa_file("CharNgramModel_brown")
    language_model = CharNgramModel.load(WEIGHTS_DIRNAME / "CharNgramModel_brown.npz")
    rng = np.random.default_rng(1)
    texts = ["The quick brown fox, 1961!", "qu'est-ce"] + ["".join(rng.choice(list(language_model.alphabet), 7))]
    assert_kenlm_scores_as_the_model(language_model, path, texts)
    assert path.name.startswith("CharNgramModel_brown-") and path.stat().st_size < 15e6
    # Written once: the next call finds it.
    modified = path.stat().st_mtime_ns
    assert arpa_file("CharNgramModel_brown") == path and path.stat().st_mtime_ns == modified


def test_the_language_model_settles_what_the_network_is_unsure_of(tmp_path: Path) -> None:
    arpa = CharNgramModel.fit("ab ab ab ab ba", "ab ", order=2).write_arpa(tmp_path / "lm.arpa")
    # Classes a, b, the space and the blank: the network reads "a", then "a" or "b" at nearly even odds.
    probabilities = np.array([[[0.9, 0.03, 0.02, 0.05], [0.03, 0.03, 0.04, 0.9], [0.48, 0.46, 0.03, 0.03]]])
    tokens = ["a", "b", " ", "_"]
    assert CtcDecoder(tokens, 3, beam_width=4).decode(probabilities)[0] == [[0, 0]]
    decoder = CtcDecoder(tokens, 3, beam_width=4, language_model=arpa, lm_weight=1.0)
    assert decoder.decode(probabilities)[0] == [[0, 1]]


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
    CharNgramModel.fit("abc cab", "abc ", order=2).save(tmp_path / "abc.npz")
    monkeypatch.setattr("text_recognizer.models.line_model_ctc.WEIGHTS_DIRNAME", tmp_path)
    monkeypatch.setattr("text_recognizer.language_model.ARPA_CACHE_DIRNAME", tmp_path / "cache")
    config = {"dataset": "IamLinesDataset", "model": "LineModelCtc", "network": "line_lstm_ctc"}
    with pytest.raises(ValueError, match="is not over the tokens"):
        build_model({**config, "model_args": {"language_model": "abc"}})
    assert (WEIGHTS_DIRNAME / "CharNgramModel_brown.npz").is_file()
