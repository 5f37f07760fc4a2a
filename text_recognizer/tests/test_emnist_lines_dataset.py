"""EMNIST Lines and the sentence generator behind it, on small splits cached in a temporary folder."""

import string
from pathlib import Path

import numpy as np
import pytest

from text_recognizer.datasets import EmnistLinesDataset
from text_recognizer.datasets.dataset import MIRROR_ENV_VAR
from text_recognizer.datasets.sentence_generator import SentenceGenerator

ALPHABET = set(string.ascii_letters + string.digits + " ")


@pytest.fixture(scope="module")
def generator() -> SentenceGenerator:
    return SentenceGenerator(max_length=20, alphabet=ALPHABET)


@pytest.fixture
def tmp_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(EmnistLinesDataset, "data_dirname", classmethod(lambda cls: tmp_path))
    return tmp_path


def test_snippets_are_short_whole_words_of_the_alphabet(generator: SentenceGenerator) -> None:
    rng = np.random.default_rng(0)
    for _ in range(500):
        snippet = generator.generate(rng)
        assert 0 < len(snippet) <= 20 and set(snippet) <= ALPHABET
        assert snippet == snippet.strip() and "  " not in snippet
        assert f" {snippet} " in f" {generator.text} "  # starts and ends on word boundaries


def test_constructing_loads_no_data(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MIRROR_ENV_VAR, "/nonexistent")
    dataset = EmnistLinesDataset(max_length=10)
    assert dataset.input_shape == (28, 280) and dataset.output_length == 10
    assert dataset.num_classes == len(dataset.mapping) and dataset.mapping[dataset.padding_label] == "_"


def test_lines_spell_their_padded_targets(tmp_data: Path) -> None:
    dataset = EmnistLinesDataset(max_length=12, num_train=20, num_test=10)
    dataset.load_or_generate_data()
    assert dataset.x_train.shape == (20, 28, 336) and dataset.x_train.dtype == np.uint8
    assert dataset.y_test.shape == (10, 12)
    for image, labels in zip(dataset.x_train, dataset.y_train, strict=True):
        text = "".join(dataset.mapping[label] for label in labels)
        length = len(text.rstrip("_"))
        assert length > 0 and "_" not in text[:length] and set(text[:length]) <= ALPHABET
        assert image[:, length * 28 :].max() == 0  # nothing is drawn past the last character
    assert list((tmp_data / "processed" / "emnist_lines").glob("*.h5"))


def test_test_split_does_not_depend_on_the_training_split(tmp_data: Path) -> None:
    small, large = EmnistLinesDataset(num_train=0, num_test=5), EmnistLinesDataset(num_train=30, num_test=5)
    small.load_or_generate_data()
    large.load_or_generate_data()
    assert np.array_equal(small.x_test, large.x_test) and np.array_equal(small.y_test, large.y_test)


def test_overlap_outside_its_range_is_refused() -> None:
    with pytest.raises(ValueError, match="overlap"):
        EmnistLinesDataset(min_overlap=0.5, max_overlap=0.2)
