"""The whole-page data set (layout-derived printed lines, label maps, page preparation, training windows, cache key)
and the whole-page reader (`PageTextRecognizer`, on the shipped artifacts).

Runs on the two real pages of `support/iam_pages/` (an IAM scan and a binarized page, at half resolution), in seconds.
"""

import json
from pathlib import Path

import numpy as np
import pytest

from text_recognizer.datasets import IamPagesDataset
from text_recognizer.datasets.iam_pages_dataset import PRINTED, find_rules, page_label_map, printed_lines
from text_recognizer.datasets.page_augmentation import augment_page_batch
from text_recognizer.metrics import character_error_rate
from text_recognizer.predictors import PageTextRecognizer
from text_recognizer.predictors.page import deskew, page_lines, page_skew
from text_recognizer.preprocessing import METHODS, as_page, prepare, prepare_page
from text_recognizer.util import read_image

SUPPORT = Path(__file__).parent / "support" / "iam_pages"
TEXTS = json.loads((SUPPORT / "texts.json").read_text())


def support_page(name: str) -> np.ndarray:
    return as_page(read_image(SUPPORT / name))


@pytest.mark.parametrize("name", sorted(TEXTS))
def test_printed_lines_found_on_scans_only(name: str) -> None:
    page = support_page(name)
    # The scan's handwriting starts below its header; at this page's half resolution, about row 355.
    boxes = printed_lines(page, first_handwritten_top=350)
    assert len(boxes) == TEXTS[name]["printed_lines"]
    if TEXTS[name]["kind"] == "scan":
        rules = find_rules(page)
        assert len(rules) == 3  # above and below the printed text, and above "Name:"
        assert all(rules[0][1] < y and y + h < rules[1][1] for _, y, _, h in boxes)
        assert [y for _, y, _, _ in boxes] == sorted(y for _, y, _, _ in boxes)
    else:
        assert find_rules(page) == []


def test_page_label_map_alternates_handwritten_lines_and_marks_printed_ones() -> None:
    handwritten = [(10, 100, 200, 40), (10, 140, 200, 40), (10, 180, 200, 40)]
    label_map = page_label_map(handwritten, [(10, 20, 200, 40)], 0.5, (128, 128))
    assert label_map.shape == (128, 128)
    assert set(np.unique(label_map)) == {0, 1, 2, PRINTED}
    column = label_map[:, 50]
    # Top to bottom: printed, then lines 1 (odd), 2 (even), 3 (odd), each shrunk so background parts them.
    runs = [int(v) for i, v in enumerate(column) if v and (i == 0 or column[i - 1] != v)]
    assert runs == [PRINTED, 1, 2, 1]
    assert column[: round(20 * 0.5)].max() == 0 and label_map[:, 110:].max() == 0


def test_prepare_page_keeps_the_aspect_and_pads_to_the_stride() -> None:
    page = support_page("a01-014.jpg")
    image, scale = prepare_page(page, 620, 8)
    assert image.shape == (888, 624) and scale == pytest.approx(0.5)
    assert image[:10].mean() < image.mean() + 1  # white ink on black: the top margin is paper, dark
    assert np.array_equal(prepare(page, {"method": "page", "width": 620, "multiple": 8}), image)
    assert METHODS["page"] == ("width", "multiple")


def test_training_windows_keep_image_and_labels_together() -> None:
    page = support_page("a01-014.jpg")
    image, scale = prepare_page(page, 620, 8)
    boxes = [(200, 360 + 46 * i, 800, 40) for i in range(10)]
    label_map = page_label_map(boxes, [], scale, image.shape)
    x, y = augment_page_batch(np.stack([image] * 4), np.stack([label_map] * 4), np.random.default_rng(0), (256, 192))
    assert x.shape == y.shape == (4, 256, 192) and x.dtype == np.uint8
    assert set(np.unique(y)) <= {0, 1, 2}
    assert all((window == 1).any() for window in y)  # the first handwritten line is always in view
    plain_x, plain_y = augment_page_batch(image[None], label_map[None], np.random.default_rng(0), (256, 192), False)
    assert (plain_y == 1).any() and plain_x.shape == (1, 256, 192)


def test_page_lines_boxes_each_kind_in_reading_order() -> None:
    labels = np.zeros((200, 160), np.int64)
    labels[10:16, 20:140] = PRINTED
    labels[40:52, 20:140], labels[70:82, 20:120], labels[100:112, 20:140] = 1, 2, 1
    lines = page_lines(np.eye(4)[labels], 0.25, (800, 640))
    assert [kind for _, kind in lines] == ["printed", "handwritten", "handwritten", "handwritten"]
    tops = [box[1] for _, box in zip(range(4), (box for box, _ in lines), strict=False)]
    assert tops[1] < tops[2] < tops[3] and 35 * 4 < tops[1] < 40 * 4


def test_contract_and_cache_key() -> None:
    data = IamPagesDataset()
    contract = data.contract()
    assert contract["classes"] == ["background", "odd line", "even line", "printed"]
    assert contract["input_shape"] == [None, None]
    assert contract["preprocessing"] == {"method": "page", "width": 620, "multiple": 8}
    assert data.processed_filename() != IamPagesDataset(width=800).processed_filename()
    assert data.processed_filename() == IamPagesDataset(crop=(256, 256)).processed_filename()  # windows: not cached


@pytest.mark.parametrize("angle", [0.0, 3.0, -4.5])
def test_page_skew_finds_the_tilt_that_deskew_undoes(angle: float) -> None:
    page = support_page("a01-000x.png")
    tilted = deskew(page, -angle)  # turned by +angle: tilted by angle
    assert page_skew(prepare_page(tilted, 620, 8)[0]) == pytest.approx(angle, abs=0.5)
    assert tilted.shape == page.shape and tilted[0, 0] > 200  # corners filled with paper


@pytest.fixture(scope="module")
def page_recognizer() -> PageTextRecognizer:
    return PageTextRecognizer()


@pytest.mark.parametrize("name", sorted(TEXTS))
def test_page_text_recognizer_reads_whole_pages(page_recognizer: PageTextRecognizer, name: str) -> None:
    expected = TEXTS[name]
    prediction = page_recognizer.predict(SUPPORT / name)
    kinds = [line.kind for line in prediction.lines]
    assert kinds == sorted(kinds, reverse=True)  # printed lines first, then the handwriting
    assert kinds.count("printed") == expected["printed_lines"]
    # Exact: the scan's signature beside "Name:" is no line of the text (`MIN_LINE_PROBABILITY`).
    assert kinds.count("handwritten") == expected["handwritten_lines"]
    # These pages are at half resolution: they read at 15% and 7% CER (whole pages at full resolution: 5.5%).
    assert character_error_rate([prediction.text], [expected["text"]]) < 0.2


def test_page_text_recognizer_straightens_a_tilted_page(page_recognizer: PageTextRecognizer) -> None:
    page = support_page("a01-000x.png")
    prediction = page_recognizer.predict_pages([deskew(page, -3.0)])[0]  # tilted by 3 degrees
    assert [line.kind for line in prediction.lines] == ["handwritten"] * TEXTS["a01-000x.png"]["handwritten_lines"]
    assert all(x >= 0 and y >= 0 and x + w <= page.shape[1] and y + h <= page.shape[0] for x, y, w, h in
               (line.box for line in prediction.lines))  # fmt: skip
    assert character_error_rate([prediction.text], [TEXTS["a01-000x.png"]["text"]]) < 0.25


def test_lines_the_detector_is_unsure_of_are_left_out() -> None:
    maps = np.zeros((80, 100, 4), np.float32)
    maps[..., 0] = 1.0
    maps[10:20, 10:90] = [0.05, 0.95, 0, 0]  # a line, sure
    maps[50:60, 10:60] = [0.3, 0, 0.7, 0]  # a line's class, but barely: a signature, say
    sure_and_unsure = [box for box, kind in page_lines(maps, 1.0, (80, 100)) if kind == "handwritten"]
    assert len(sure_and_unsure) == 2
    sure = [box for box, kind in page_lines(maps, 1.0, (80, 100), min_line_probability=0.845) if kind == "handwritten"]
    assert sure == sure_and_unsure[:1]
