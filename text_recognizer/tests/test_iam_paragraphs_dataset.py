"""IAM paragraphs: the region, preprocessing and label map helpers on synthetic data, and the real data set."""

import numpy as np
import pytest

from text_recognizer.datasets.dataset import DataError
from text_recognizer.datasets.iam_paragraphs_dataset import (
    IamParagraphsDataset,
    line_label_map,
    paragraph_region,
    prepare_paragraph,
)


def test_paragraph_region_is_the_union_grown_by_the_margin() -> None:
    boxes = [(10, 20, 30, 5), (15, 30, 40, 6)]
    assert paragraph_region(boxes, (100, 100), margin=5) == (5, 15, 55, 26)


def test_paragraph_region_is_clipped_to_the_page() -> None:
    assert paragraph_region([(10, 20, 30, 5), (15, 80, 80, 10)], (95, 100), margin=15) == (0, 5, 100, 90)


def test_prepare_paragraph_pads_to_a_square_and_scales() -> None:
    crop = np.full((100, 200), 220, dtype=np.uint8)  # light paper, wider than high
    crop[40:60, 40:160] = 20  # a dark stroke
    image, scale = prepare_paragraph(crop, 50)
    assert image.shape == (50, 50) and image.dtype == np.uint8
    assert scale == pytest.approx(0.25)
    # The stroke lands at its crop position times the scale, white on black; the padding below the crop is black.
    assert image[10:15, 10:40].min() > 200
    assert image[:10].max() == 0 and image[16:].max() == 0
    assert image[10:15, :9].max() == 0 and image[10:15, 41:].max() == 0


def test_line_label_map_alternates_odd_and_even_lines() -> None:
    boxes = [(0, 0, 100, 20), (0, 30, 80, 20), (0, 60, 100, 20)]
    label_map = line_label_map(boxes, scale=0.5, size=64)
    assert label_map.shape == (64, 64) and label_map.dtype == np.uint8
    assert [label_map[row, 20] for row in (5, 20, 35)] == [1, 2, 1]  # line centres, halved
    assert label_map[12, 20] == 0 and label_map[27, 20] == 0  # the gaps between lines
    assert label_map[20, 45] == 0  # right of the shorter second line
    assert label_map[50:].max() == 0 and label_map[:, 51:].max() == 0  # below and right of the paragraph
    # The top and bottom of each box (ascenders and descenders) are left out of the line's band.
    assert label_map[0, 20] == 0 and label_map[9, 20] == 0


def test_line_label_map_splits_overlapping_lines() -> None:
    boxes = [(0, 0, 50, 40), (0, 20, 50, 40)]  # the second starts half way down the first
    label_map = line_label_map(boxes, scale=1.0, size=64)
    column = list(label_map[:, 10])
    assert column[:6] == [0] * 6 and column[54:] == [0] * 10
    assert column[6:30] == [1] * 24 and column[30:54] == [2] * 24  # both keep a band; the cut is in the middle


@pytest.fixture(scope="module")
def dataset() -> IamParagraphsDataset:
    dataset = IamParagraphsDataset()
    try:
        dataset.load_or_generate_data()
    except DataError as e:
        pytest.skip(f"IAM is not available: {e}")
    return dataset


def test_splits_are_iams(dataset: IamParagraphsDataset) -> None:
    # Forms of the mirror (636) by the split of their lines; every form keeps some inked line.
    sizes = {split: len(ids) for split, ids in dataset.form_ids.items()}
    assert sizes == {"train": 481, "validation": 56, "test": 99}
    assert dataset.x_train.shape == dataset.y_train.shape == (481, 256, 256)
    assert dataset.x_val.shape == (56, 256, 256) and dataset.x_test.shape == (99, 256, 256)
    assert dataset.x_test.dtype == dataset.y_test.dtype == np.uint8
    assert not set(dataset.form_ids["train"]) & set(dataset.form_ids["test"])
    assert set(np.unique(dataset.y_val)) == {0, 1, 2}


def test_label_maps_have_lines_where_the_ink_is(dataset: IamParagraphsDataset) -> None:
    for i, form_id in enumerate(dataset.form_ids["validation"]):
        x, y = dataset.x_val[i], dataset.y_val[i]
        ink = x > 96
        # Most ink is on a line (the rest: ascenders and descenders), and lines are much brighter than the rest.
        assert (y[ink] > 0).mean() > 0.7, form_id
        assert x[y > 0].mean() > 3 * x[y == 0].mean(), form_id
        # The first line is odd, and it starts near the top-left corner (the paragraph's margin).
        rows, columns = np.nonzero(y)
        assert y[rows[0], columns[0]] == 1 and rows[0] < 16 and columns.min() < 16, form_id
