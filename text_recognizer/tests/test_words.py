"""Words from the CTC alignment: where each character fires (greedy and beam search), words split at spaces with
their steps and confidences, and their boxes on real lines and pages."""

import json
from pathlib import Path

import numpy as np
import pytest

from text_recognizer.decoding import CtcDecoder, path_labels, split_words
from text_recognizer.language_model import CharNgramModel
from text_recognizer.predictors import LinePredictor, PageTextRecognizer
from text_recognizer.predictors.base import Box, Line, Prediction
from text_recognizer.predictors.line import _to_width
from text_recognizer.predictors.page import deskew
from text_recognizer.preprocessing import as_page, find_line, found_line_spec, line_scale, prepare
from text_recognizer.util import read_image

SUPPORT = Path(__file__).parent / "support"
IAM_TEXTS = json.loads((SUPPORT / "iam_lines" / "texts.json").read_text())
EMNIST_TEXTS = json.loads((SUPPORT / "emnist_lines" / "texts.json").read_text())
TOKENS = ["a", "b", " ", "_"]  # the space separates words; "_" is the blank
BLANK = 3


def outputs(path: list[int], sure: dict[int, float]) -> np.ndarray:
    """One line's outputs (1, steps, classes): each step gives its class of `path` 0.97 (or `sure[step]`) and the
    other classes the rest evenly."""
    probabilities = np.empty((len(path), len(TOKENS)))
    for step, label in enumerate(path):
        probability = sure.get(step, 0.97)
        probabilities[step] = (1 - probability) / (len(TOKENS) - 1)
        probabilities[step, label] = probability
    return probabilities[None]


def test_a_path_reads_its_runs_where_they_fire() -> None:
    labels, steps = path_labels(np.array([3, 0, 0, 3, 0, 1, 1, 2, 2, 3, 1]), BLANK)
    assert labels == [0, 0, 1, 2, 1]
    assert steps.tolist() == [[1, 2], [4, 4], [5, 6], [7, 8], [10, 10]]
    # After flashlight's start token (the space), a space at the start is the start's: it reads nothing.
    labels, steps = path_labels(np.array([2, 2, 0, 3, 2]), BLANK, start=2)
    assert labels == [0, 2] and steps.tolist() == [[2, 2], [4, 4]]
    labels, steps = path_labels(np.array([], dtype=int), BLANK)
    assert labels == [] and steps.shape == (0, 2)


def test_words_split_at_spaces_with_their_steps_and_the_product_of_their_characters() -> None:
    # "ab b": a at steps 0-1 (0.9 and 0.6: the most counts), b at 3 (0.8), the space at 5-6, b at 7-8 (0.5, 0.7).
    path = [0, 0, 3, 1, 3, 2, 2, 1, 1, 3]
    probabilities = outputs(path, {0: 0.9, 1: 0.6, 3: 0.8, 7: 0.5, 8: 0.7})[0]
    labels, steps = path_labels(np.array(path), BLANK)
    words = split_words(TOKENS, labels, steps, probabilities)
    assert [word[:3] for word in words] == [("ab", 0, 3), ("b", 7, 8)]
    assert [word.confidence for word in words] == pytest.approx([0.9 * 0.8, 0.7])
    # Spaces at the ends and doubled between words make no empty words.
    labels, steps = [2, 0, 2, 2, 1, 2], np.array([[i, i] for i in range(6)])
    words = split_words(TOKENS, labels, steps, outputs([2, 0, 2, 2, 1, 2], {})[0])
    assert [word[:3] for word in words] == [("a", 1, 1), ("b", 4, 4)]
    assert split_words(TOKENS, [], np.zeros((0, 2), dtype=int), probabilities) == []


def test_greedy_reading_tells_where_each_label_fires() -> None:
    path = [0, 0, 3, 1, 3, 2, 2, 1, 1, 3]
    probabilities = outputs(path, {0: 0.9, 1: 0.6, 3: 0.8, 7: 0.5, 8: 0.7})
    (reading,) = CtcDecoder(TOKENS, BLANK).read(probabilities)
    assert reading.labels == [0, 1, 2, 1] and reading.steps.tolist() == [[0, 1], [3, 3], [5, 6], [7, 8]]
    sequences, confidences = CtcDecoder(TOKENS, BLANK).decode(probabilities)
    assert sequences == [reading.labels] and confidences[0] == pytest.approx(reading.confidence)
    # Beam search, on outputs this clear, reads the same at the same steps.
    (beam,) = CtcDecoder(TOKENS, BLANK, beam_width=4).read(probabilities)
    assert beam.labels == reading.labels and beam.steps.tolist() == reading.steps.tolist()


def test_beam_search_with_a_language_model_tells_where_its_reading_fires(tmp_path: Path) -> None:
    arpa = CharNgramModel.fit("ab ab ab ab ba", "ab ", order=2).write_arpa(tmp_path / "lm.arpa")
    # The network reads "a", then "a" or "b" at nearly even odds; the language model settles it: "ab".
    probabilities = np.array([[[0.9, 0.03, 0.02, 0.05], [0.03, 0.03, 0.04, 0.9], [0.48, 0.46, 0.03, 0.03]]])
    (reading,) = CtcDecoder(TOKENS, BLANK, beam_width=4, language_model=arpa, lm_weight=1.0).read(probabilities)
    assert reading.labels == [0, 1] and reading.steps.tolist() == [[0, 0], [2, 2]]
    # "b" fires where the network gives it 0.46: the word is as doubtful.
    (word,) = split_words(TOKENS, reading.labels, reading.steps, probabilities[0])
    assert word[:3] == ("ab", 0, 2) and word.confidence == pytest.approx(0.9 * 0.46)


def test_beam_search_steps_count_the_sure_blanks_it_skips() -> None:
    # Sure blanks (more than 1 - SURE_BLANK) after another are not searched; the steps are still the line's own.
    sure_blank = {step: 0.9999 for step in (1, 2, 3, 4, 5, 6, 8, 9, 11, 12)}
    probabilities = outputs([0, 3, 3, 3, 3, 3, 3, 1, 3, 3, 2, 3, 3, 0], sure_blank)
    (reading,) = CtcDecoder(TOKENS, BLANK, beam_width=4).read(probabilities)
    assert reading.labels == [0, 1, 2, 0] and reading.steps.tolist() == [[0, 0], [7, 7], [10, 10], [13, 13]]
    words = split_words(TOKENS, reading.labels, reading.steps, probabilities[0])
    assert [word[:3] for word in words] == [("ab", 0, 7), ("a", 13, 13)]


@pytest.mark.parametrize("beam_width", [1, 8])
def test_each_label_fires_where_the_path_holds_it(beam_width: int) -> None:
    rng = np.random.default_rng(0)
    logits = rng.normal(scale=4.0, size=(16, 30, len(TOKENS)))
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=-1, keepdims=True)
    for line, reading in zip(probabilities, CtcDecoder(TOKENS, BLANK, beam_width).read(probabilities), strict=True):
        steps = reading.steps
        assert steps.shape == (len(reading.labels), 2) and np.all(steps[:, 0] <= steps[:, 1])
        assert np.all(steps[1:, 0] > steps[:-1, 1]) and (not len(steps) or (steps[0, 0] >= 0 and steps[-1, 1] < 30))
        if beam_width == 1:  # the best path holds the label throughout, and none of it before or after
            best = line.argmax(axis=-1)
            for label, (first, last) in zip(reading.labels, steps, strict=True):
                assert np.all(best[first : last + 1] == label)
                assert (first == 0 or best[first - 1] != label) and (last == 29 or best[last + 1] != label)


@pytest.mark.parametrize(
    "shape, spec",
    [
        ((66, 1012), {"method": "line", "height": 64, "max_width": 1280}),
        ((40, 3000), {"method": "line", "height": 64, "max_width": 1280}),  # squeezed
        ((28, 427), {"method": "fixed_height_line", "height": 28, "min_width": 952, "max_width": 7616}),
        ((56, 500), {"method": "fixed_height_line", "height": 28, "min_width": 952, "max_width": 7616}),
        ((14, 5000), {"method": "fixed_height_line", "height": 28, "min_width": 952, "max_width": 7616}),  # cut
    ],
)
def test_line_scale_is_how_prepare_scaled_the_line(shape: tuple[int, int], spec: dict) -> None:
    page = np.full(shape, 255, np.uint8)
    column = shape[1] * 3 // 4
    page[:, column] = 0  # ink in one column, three quarters along
    horizontal, vertical = line_scale(shape, spec)
    prepared = prepare(page, spec)
    assert prepared.shape[0] == round(shape[0] * vertical)
    # The ink lies where the scale puts it (give or take a pixel of interpolation).
    inked = np.flatnonzero(prepared.max(axis=0) > 0)
    assert abs(inked[0] - column * horizontal) <= 1 and abs(inked[-1] + 1 - (column + 1) * horizontal) <= 1


def test_line_scale_is_for_lines_only() -> None:
    with pytest.raises(ValueError, match="prepares no line"):
        line_scale((28, 28), {"method": "character", "size": 28})


def assert_words_fit(line: Line, overlap: int = 3) -> None:
    """Its words join to its text, lie inside its box, left to right, overlapping by at most `overlap` pixels."""
    assert " ".join(word.text for word in line.words) == line.text
    assert all(word.text and " " not in word.text and 0 <= word.confidence <= 1 for word in line.words)
    x, y, w, h = line.box
    for wx, wy, ww, wh in (word.box for word in line.words):
        assert ww >= 1 and wh >= 1 and x <= wx and y <= wy and wx + ww <= x + w and wy + wh <= y + h
    boxes = [word.box for word in line.words]
    for (x0, _, w0, _), (x1, _, _, _) in zip(boxes, boxes[1:], strict=False):
        assert x0 < x1 and x0 + w0 - x1 <= overlap, boxes


def covered(page: np.ndarray, boxes: list[Box]) -> float:
    """The share of a line's ink (dark pixels) inside the boxes."""
    ink = page < 128
    inside = np.zeros_like(ink)
    for x, y, w, h in boxes:
        inside[y : y + h, x : x + w] = True
    return float((ink & inside).sum() / max(ink.sum(), 1))


@pytest.fixture(scope="module")
def iam() -> LinePredictor:
    return LinePredictor("iam")


@pytest.mark.parametrize("decoder", [None, {}], ids=["beam-search", "greedy"])
def test_iam_support_lines_words_fit_their_lines_and_cover_the_ink(iam: LinePredictor, decoder: dict | None) -> None:
    predictor = iam if decoder is None else LinePredictor("iam", decoder=decoder)
    for name, truth in IAM_TEXTS.items():
        page = as_page(read_image(SUPPORT / "iam_lines" / name))
        prediction = predictor.predict(page)
        (line,) = prediction.lines
        assert line.text == prediction.text and line.box == (0, 0, page.shape[1], page.shape[0])
        assert_words_fit(line)
        # A word for nearly each one written (a misread word may run into the next), and the boxes hold nearly all
        # the ink: they are where words are.
        assert abs(len(line.words) - len(truth.split())) <= 2, (line.text, truth)
        assert covered(page, [word.box for word in line.words]) > 0.9, name


def test_words_are_where_the_line_predictor_reads_them(iam: LinePredictor) -> None:
    # Reading a word's box alone reads (most of) that word.
    page = as_page(read_image(SUPPORT / "iam_lines" / "b04-116-00.png"))
    (line,) = iam.predict(page).lines
    word = next(word for word in line.words if word.text == "Government")
    x, y, w, h = word.box
    assert iam.predict(page[:, x : x + w]).text.lower() == "government"  # alone, its capital may read small


def test_a_line_squeezed_to_the_networks_width_keeps_its_words_in_place(iam: LinePredictor) -> None:
    page = as_page(read_image(SUPPORT / "iam_lines" / "a01-014-00.png"))
    wide = np.concatenate([page, page[:, ::-1][:, :700]], axis=1)  # wider than 1280 at height 64: squeezed
    spec = iam.artifact.spec["preprocessing"]
    assert spec["method"] == "found_line"  # the line is found in the image first, then scaled as a "line"
    found, _ = find_line(wide, spec["margin"])
    assert line_scale(found.shape, found_line_spec(spec))[0] < spec["height"] / found.shape[0]
    (line,) = iam.predict(wide).lines
    assert_words_fit(line)
    (alone,) = iam.predict(page).lines
    # The words of the original line, read squeezed, lie about where they lie unsqueezed.
    for word in alone.words[:3]:
        match = next(other for other in line.words if other.text == word.text)
        assert abs(match.box[0] - word.box[0]) < 15 and abs(match.box[0] + match.box[2] - sum(word.box[::2])) < 20


@pytest.mark.parametrize("model", ["emnist_lines", "LineModel_EmnistLinesDataset_line_cnn_all_conv"])
def test_emnist_lines_words_fit_their_lines(model: str) -> None:
    # The CTC model's words come from its alignment; the positions model's from the position of each character it
    # reads (a character per position, spread evenly over its input).
    predictor = LinePredictor(model)
    for name in EMNIST_TEXTS:
        page = as_page(read_image(SUPPORT / "emnist_lines" / name))
        prediction = predictor.predict(page)
        (line,) = prediction.lines
        assert_words_fit(line)
        assert "  " not in line.text and line.text == line.text.strip()
        if model == "emnist_lines":
            assert len(line.words) == len(EMNIST_TEXTS[name].split())
            assert covered(page, [word.box for word in line.words]) > 0.95


def test_the_positions_model_collapses_doubled_spaces_into_one_word_break() -> None:
    predictor = LinePredictor("LineModel_EmnistLinesDataset_line_cnn_all_conv")
    probabilities = np.zeros((1, 34, len(predictor.classes)), np.float32)
    text = " ab  c" + "_" * 28
    probabilities[0, np.arange(34), [predictor.classes.index(char) for char in text]] = 1.0
    (reading,) = predictor._readings(probabilities, 952)
    assert reading.text == "ab c" and [word[:3] for word in reading.words] == [("ab", 1, 2), ("c", 5, 5)]


@pytest.fixture(scope="module")
def page_recognizer() -> PageTextRecognizer:
    return PageTextRecognizer()


def assert_page_words_fit(prediction: Prediction) -> None:
    for line in prediction.lines:
        assert_words_fit(line, overlap=6)
    handwritten = [line for line in prediction.lines if line.kind == "handwritten"]
    assert prediction.text == "\n".join(" ".join(word.text for word in line.words) for line in handwritten)


def test_page_words_fit_their_lines_in_page_pixels(page_recognizer: PageTextRecognizer) -> None:
    page = as_page(read_image(SUPPORT / "iam_pages" / "a01-014.jpg"))
    prediction = page_recognizer.predict(page)
    assert_page_words_fit(prediction)
    line = next(line for line in prediction.lines if line.kind == "handwritten")
    # The first handwritten line's words, cut from the page, read as themselves.
    first = line.words[1]
    x, y, w, h = first.box
    assert x > line.box[0] and y >= line.box[1]
    assert page_recognizer.line_predictor.predict(page[y : y + h, x : x + w]).text == first.text


def test_words_of_a_straightened_page_are_in_the_tilted_pages_pixels(page_recognizer: PageTextRecognizer) -> None:
    page = as_page(read_image(SUPPORT / "iam_pages" / "a01-000x.png"))
    tilted = deskew(page, -3.0)  # tilted by 3 degrees: the recognizer straightens it to read
    prediction = page_recognizer.predict_pages([tilted])[0]
    assert_page_words_fit(prediction)
    assert sum(len(line.words) for line in prediction.lines) > 30


def test_word_boxes_follow_the_input_width_the_line_ran_at(iam: LinePredictor) -> None:
    # Frames map to the input's columns: the same line run at its own width and padded to the full one reads its
    # words at (nearly) the same place.
    page = as_page(read_image(SUPPORT / "iam_lines" / "f02-020-07.png"))
    image = prepare(page, iam.artifact.spec["preprocessing"])
    own = iam._input_width(image)
    readings = [iam._readings(iam.artifact.run(_to_width(image, w)[None]), w)[0] for w in (own, 1280)]
    assert readings[0].text == readings[1].text
    for a, b in zip(readings[0].words, readings[1].words, strict=True):
        assert abs(a.first * own / readings[0].steps - b.first * 1280 / readings[1].steps) <= 8
