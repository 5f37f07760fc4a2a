"""The one preprocessing path: polarity decided once, each preparation, and the predictors' path reproducing the
training caches bit for bit (with the preprocessing each shipped artifact names)."""

import json
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np
import pytest

from text_recognizer.artifacts import ARTIFACTS_DIRNAME, SPEC_FILENAME
from text_recognizer.preprocessing import (
    as_page,
    check_spec,
    find_line,
    line_skew,
    normalize_ink,
    own_ink,
    prepare,
    prepare_line_input,
)
from text_recognizer.util import read_image

EMNIST_LINES = {"method": "fixed_height_line", "height": 28, "min_width": 280, "max_width": 2240}


def _artifact_preprocessing(name: str) -> dict:
    return json.loads((ARTIFACTS_DIRNAME / name / SPEC_FILENAME).read_text())["preprocessing"]


def test_polarity_is_decided_by_the_border() -> None:
    page = np.full((20, 30), 230, np.uint8)
    page[5:15, 5:25] = 20  # dark ink on light paper stays as it is
    assert np.array_equal(as_page(page), page)
    assert np.array_equal(as_page(255 - page), page)  # light ink on a dark ground is turned over


def test_ink_of_uint8_pages_is_normalized_by_table_to_the_bit() -> None:
    rng = np.random.default_rng(0)
    pages = [rng.integers(0, 256, (37, 53)), rng.choice([0, 40, 250, 255], (20, 90)), np.full((5, 5), 200)]
    pages.append(rng.integers(0, 256, (300, 400))[17:80, 31:300])  # a view, as a line cut from a page
    for page in pages:
        page = page.astype(np.uint8)
        assert np.array_equal(normalize_ink(page), normalize_ink(page.astype(np.float32)))  # table vs arithmetic


def test_training_format_lines_pass_unchanged() -> None:
    image = np.zeros((28, 280), dtype=np.uint8)
    image[4:24, 10:200] = 200
    assert np.array_equal(prepare(as_page(image), EMNIST_LINES), image)


def test_page_crops_become_training_format() -> None:
    image = np.zeros((28, 150), dtype=np.uint8)
    image[4:24, 10:140] = 255
    scan = np.repeat(np.repeat(255 - image, 3, axis=0), 3, axis=1)  # dark on light, three times the resolution
    prepared = prepare(as_page(scan), EMNIST_LINES)
    assert prepared.shape == (28, 280)
    assert np.abs(prepared[:, :150].astype(int) - image).mean() < 10 and prepared[:, 150:].max() == 0


def test_width_is_bounded() -> None:
    sliver = np.full((2, 50000), 255, dtype=np.uint8)
    assert prepare(sliver, EMNIST_LINES).shape == (28, 2240)
    iam = prepare(sliver, {"method": "line", "height": 64, "max_width": 1280})
    assert iam.shape == (64, 1280)


def test_a_character_on_a_page_is_framed() -> None:
    page = np.full((100, 60), 255, np.uint8)
    page[20:80, 25:35] = 0  # an "l"
    framed = prepare(page, {"method": "character", "size": 28})
    assert framed.shape == (28, 28) and framed.max() == 255 and framed[0].max() == 0  # centred with a margin


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"method": "nosuch"}, "Unknown preprocessing"),
        ({"method": "line", "height": 64}, "takes"),
        ({"method": "character", "size": 28, "extra": 1}, "takes"),
    ],
)
def test_bad_specs_are_clear_errors(spec: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_spec(spec)


def test_emnist_test_images_pass_unchanged() -> None:
    from text_recognizer.datasets import EmnistDataset

    dataset = EmnistDataset()
    dataset.load_or_generate_data()
    spec = _artifact_preprocessing("CharacterModel_EmnistDataset_lenet")
    assert all(np.array_equal(prepare(as_page(x), spec), x) for x in dataset.x_test[:500])


@pytest.mark.parametrize("shape", [(40_000, 1), (1, 40_000), (3_000, 20)], ids=["tall", "wide", "sliver"])
def test_lines_of_any_shape_are_found_and_prepared(shape: tuple[int, int]) -> None:
    page = np.full(shape, 200, np.uint8)
    page[shape[0] // 3 : max(1, shape[0] // 2), : max(1, shape[1] // 2)] = 30
    spec = {"method": "found_line", "height": 64, "max_width": 1280, "margin": 8}
    image, matrix = prepare_line_input(page, spec)
    assert image.shape == (64, 1280) and matrix.shape == (2, 3)


@pytest.mark.parametrize("found", [False, True], ids=["line", "found_line"])
def test_iam_line_crops_are_prepared_as_cached(found: bool) -> None:
    """Test-split lines cut from their form pages, through the preprocessing the data set writes into an artifact,
    are the cached training-format lines to the bit; the shipped IAM artifact's is the found_line one."""
    from text_recognizer.datasets import IamDataset, IamLinesDataset
    from text_recognizer.datasets.iam_lines_dataset import crop_line

    lines = IamLinesDataset(find_line=found)
    lines.load_or_generate_data()
    spec = lines.contract()["preprocessing"]
    if found:
        assert spec == _artifact_preprocessing("LineModelCtc_IamLinesDataset_line_lstm_ctc")
    iam = IamDataset()
    iam.load_or_generate_data()
    wanted = dict(enumerate(lines.line_ids["test"][:60]))
    by_id = {line.line_id: line for line in iam.lines}
    by_form = defaultdict(list)
    for index, line_id in wanted.items():
        by_form[by_id[line_id].form_id].append(index)
    checked = 0
    for form_id, page in iam.form_images(sorted(by_form)):
        for index in by_form[form_id]:
            crop = crop_line(page, by_id[wanted[index]].box, lines.margin)
            assert np.array_equal(prepare(as_page(crop), spec), lines.x_test[index]), wanted[index]
            checked += 1
    assert checked == len(wanted)


def test_iam_paragraphs_are_prepared_as_cached() -> None:
    from text_recognizer.datasets import IamDataset, IamParagraphsDataset
    from text_recognizer.datasets.iam_paragraphs_dataset import iam_paragraphs

    dataset = IamParagraphsDataset()
    dataset.load_or_generate_data()
    iam = IamDataset()
    iam.load_or_generate_data()
    spec = _artifact_preprocessing("LineDetectorModel_IamParagraphsDataset_fcn")
    index = {form_id: i for i, form_id in enumerate(dataset.form_ids["test"])}
    paragraphs = [p for p in iam_paragraphs(iam, {"test"}, dataset.margin) if p.form_id in index][:10]
    assert len(paragraphs) == 10
    for paragraph in paragraphs:  # already pages: the data set cuts them from the scans
        assert np.array_equal(prepare(paragraph.crop, spec), dataset.x_test[index[paragraph.form_id]]), (
            paragraph.form_id
        )


def _support_line(name: str = "a01-014-00.png") -> np.ndarray:
    return as_page(read_image(Path(__file__).parent / "support" / "iam_lines" / name))


def test_find_line_cuts_a_loose_crop_to_its_own_ink() -> None:
    line = _support_line()
    loose = np.full((line.shape[0] + 160, line.shape[1] + 120), 255, np.uint8)
    loose[80 : 80 + line.shape[0], 60 : 60 + line.shape[1]] = line
    loose[:12, 100:700] = 0  # the descenders of the line above, cut by the crop's top edge
    loose[-30:-26, 20:-20] = 0  # a ruled line below
    cut, matrix = find_line(loose, margin=8)
    own = own_ink(normalize_ink(line))
    rows, columns = np.nonzero(own)
    # Cut to the line's own ink with the margin (to a pixel or two: the black strokes added change how dark the
    # darkest ink is, so the ink's faintest edge); the neighbour's strokes and the rule are gone.
    expected = (rows.max() - rows.min() + 17, columns.max() - columns.min() + 17)
    assert np.abs(np.subtract(cut.shape, expected)).max() <= 2, (cut.shape, expected)
    assert (cut[:6] > 200).all() and (cut[-6:] > 200).all()
    np.testing.assert_allclose(matrix, [[1, 0, -(60 + columns.min() - 8)], [0, 1, -(80 + rows.min() - 8)]], atol=2)


def test_find_line_straightens_a_tilted_line() -> None:
    line = _support_line()
    height, width = line.shape
    turn = cv2.getRotationMatrix2D((width / 2, height / 2), 3, 1.0)
    tilted = cv2.warpAffine(line, turn, (width, height + 80), borderValue=255)
    assert line_skew(normalize_ink(tilted)) == pytest.approx(-3, abs=1)
    assert abs(line_skew(normalize_ink(line))) < 1
    cut, matrix = find_line(tilted, margin=8)
    assert cut.shape[0] < height + 20  # straight again: about as high as the line, not as its tilted extent
    assert abs(np.degrees(np.arctan2(matrix[1, 0], matrix[0, 0]))) == pytest.approx(3, abs=1)


def test_prepare_line_input_gives_the_matrix_to_the_prepared_pixels() -> None:
    line = _support_line()
    spec = {"method": "line", "height": 64, "max_width": 1280}
    image, matrix = prepare_line_input(line, spec)
    np.testing.assert_array_equal(image, prepare(line, spec))
    np.testing.assert_allclose(matrix[:, :2], np.diag([64 / line.shape[0]] * 2), rtol=0.02)
    found = {"method": "found_line", "height": 64, "max_width": 1280, "margin": 8}
    image, matrix = prepare_line_input(line, found)
    np.testing.assert_array_equal(image, prepare(line, found))
    cut, to_cut = find_line(line, 8)  # the cut, then scaled to 64 rows
    np.testing.assert_allclose(matrix, to_cut * 64 / cut.shape[0], rtol=0.02)
