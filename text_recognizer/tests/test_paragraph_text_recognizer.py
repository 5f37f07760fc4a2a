"""The paragraph recognizer: line boxes from detector maps, and real IAM test-split paragraphs read end to end."""

import json
from pathlib import Path

import numpy as np
import pytest

from text_recognizer import cli
from text_recognizer.metrics import character_error_rate
from text_recognizer.predictors import ParagraphTextRecognizer
from text_recognizer.predictors.page import line_boxes
from text_recognizer.util import ImageError, read_image

SUPPORT_DIRNAME = Path(__file__).parent / "support" / "iam_paragraphs"
TEXTS = json.loads((SUPPORT_DIRNAME / "texts.json").read_text())
# Pages by writers never seen in training, read line by line by the IAM line model (see README's results).
MAX_PAGE_CER = 0.25  # the four pages read at 3% to 17% (half resolution; the binarized pages worst)


def _maps(label_map: np.ndarray) -> np.ndarray:
    return np.eye(3, dtype=np.float32)[label_map]  # one-hot "probabilities"


def test_line_boxes_from_maps_are_scaled_back_sorted_and_padded() -> None:
    labels = np.zeros((64, 64), dtype=np.int64)
    labels[30:36, 4:60] = 1  # the lower line, listed first by class
    labels[10:16, 8:40] = 2
    labels[11:16, 42:50] = 1  # the upper line's end, labelled as the other class: a piece of the same line
    labels[50, 50] = 1  # a speck
    boxes = line_boxes(_maps(labels), scale=0.5, image_shape=(128, 128))
    assert len(boxes) == 2
    (x0, y0, w0, h0), (x1, y1, w1, h1) = boxes
    assert y0 < y1  # top to bottom
    # Each box covers its band in image pixels (twice the map's), padded a little, and stays inside the image.
    assert x0 <= 16 and x0 + w0 >= 100 and y0 <= 20 and y0 + h0 >= 32
    assert x1 <= 8 and x1 + w1 >= 120 and y1 <= 60 and y1 + h1 >= 72
    assert all(x >= 0 and y >= 0 and x + w <= 128 and y + h <= 128 for x, y, w, h in boxes)


def test_no_lines_in_an_empty_map() -> None:
    assert line_boxes(_maps(np.zeros((32, 32), dtype=np.int64)), 1.0, (32, 32)) == []


@pytest.fixture(scope="module")
def recognizer() -> ParagraphTextRecognizer:
    return ParagraphTextRecognizer()


def test_support_files_exist() -> None:
    assert len(TEXTS) >= 4 and all((SUPPORT_DIRNAME / name).is_file() for name in TEXTS)


@pytest.mark.parametrize("name", sorted(TEXTS))
def test_reads_support_paragraphs(recognizer: ParagraphTextRecognizer, name: str) -> None:
    image = read_image(SUPPORT_DIRNAME / name)
    result = recognizer.predict(image)
    truth = TEXTS[name]
    assert len(result.lines) == truth.count("\n") + 1, result.text
    assert result.text == "\n".join(line.text for line in result.lines)
    tops = [line.box[1] for line in result.lines]
    assert tops == sorted(tops)
    height, width = image.shape
    boxes = [line.box for line in result.lines]
    assert all(x >= 0 and y >= 0 and x + w <= width and y + h <= height for x, y, w, h in boxes)
    assert all(0 <= line.confidence <= 1 for line in result.lines)
    # Each line's words: their texts join to its text, their boxes lie inside its box, left to right.
    for line in result.lines:
        assert " ".join(word.text for word in line.words) == line.text
        x, y, w, h = line.box
        assert all(
            x <= wx and y <= wy and wx + ww <= x + w and wy + wh <= y + h
            for wx, wy, ww, wh in (word.box for word in line.words)
        )
        lefts = [word.box[0] for word in line.words]
        assert lefts == sorted(lefts)
    assert character_error_rate([result.text], [truth]) <= MAX_PAGE_CER, result.text


def test_bad_image_is_an_image_error(recognizer: ParagraphTextRecognizer) -> None:
    with pytest.raises(ImageError):
        recognizer.predict(b"not an image")


def test_cli_reads_a_paragraph_on_one_output_line(capsys: pytest.CaptureFixture[str]) -> None:
    name = sorted(TEXTS)[0]
    assert cli.main(["predict", "--mode", "paragraph", str(SUPPORT_DIRNAME / name)]) == 0
    path, text, confidence = capsys.readouterr().out.rstrip("\n").split("\t")
    assert path.endswith(name) and text.count(" | ") == TEXTS[name].count("\n")
    assert 0 <= float(confidence) <= 1
