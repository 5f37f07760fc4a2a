"""IAM paragraphs: the handwritten part of each form as a square uint8 image, with a per-pixel map of its lines.

    TEXT_RECOGNIZER_DATA_MIRROR=/work/shared/data/raw python -m text_recognizer.datasets.iam_paragraphs_dataset

builds (or loads) the cache under `data/processed/iam_paragraphs/`, prints a summary and writes a few debug images
under `data/interim/iam_paragraphs/`. A form's paragraph is the union of its line boxes grown by `margin` page pixels;
`prepare_paragraph` turns it into white ink on black, pads it to a square at the bottom/right and scales it to
`image_size`. The label map has 0 for background, 1 for the 1st, 3rd, ... line and 2 for the 2nd, 4th, ... line, so
that neighbouring lines never share a label and a line detector can tell them apart. Splits are IAM's (a form's lines
all share one); forms whose lines have no split are left out.
"""

import json
import time
from collections import defaultdict
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import h5py
import numpy as np
from tqdm import tqdm

from text_recognizer.datasets.dataset import Dataset
from text_recognizer.datasets.iam_dataset import Box, IamDataset, IamLine
from text_recognizer.datasets.iam_lines_dataset import crop_line
from text_recognizer.datasets.line_images import MIN_INK_PER_CHARACTER
from text_recognizer.preprocessing import normalize_ink, prepare_paragraph

SPLITS = ("train", "validation", "test")
# Bump when the way images or label maps are made changes, so that no stale cache is reused.
PROCESSING_VERSION = 1
# Fraction of a line box's height taken off its top and off its bottom in the label map: IAM boxes bound ascenders and
# descenders, so neighbouring boxes touch or overlap (7% of neighbouring pairs here, some by much of a line); shrunk,
# they mark the body of the writing and leave a background gap between lines, which separates them after thresholding.
SHRINK = 0.15
# Label map colours for the debug images (BGR): background black, odd lines red, even lines green.
COLOURS = np.array([[0, 0, 0], [60, 60, 230], [60, 200, 60]], dtype=np.uint8)


def paragraph_region(boxes: list[Box], page_shape: tuple[int, int], margin: int) -> Box:
    """The union of `boxes` (x, y, w, h) grown by `margin` on every side, clipped to a page (height, width)."""
    array = np.array(boxes)
    left, top = np.maximum(array[:, :2].min(axis=0) - margin, 0)
    right = min(int((array[:, 0] + array[:, 2]).max()) + margin, page_shape[1])
    bottom = min(int((array[:, 1] + array[:, 3]).max()) + margin, page_shape[0])
    return int(left), int(top), int(right - left), int(bottom - top)


def line_label_map(boxes: list[Box], scale: float, size: int) -> np.ndarray:
    """(size, size) uint8 map: 0 background, 1 for the odd lines, 2 for the even lines (1-based, in the given order).

    `boxes` are relative to the crop's top-left corner, in crop pixels, in reading order. Each box loses `SHRINK` of
    its height at the top and at the bottom; where consecutive lines still overlap, the rows are split at the middle
    of the overlap, so each line keeps a band of its own and no line is hidden by the next.
    """
    spans = [[(y + SHRINK * h) * scale, (y + (1 - SHRINK) * h) * scale] for _, y, _, h in boxes]
    for upper, lower in zip(spans[:-1], spans[1:], strict=True):
        if upper[1] > lower[0] and lower[1] > upper[0]:  # vertical overlap: cut at its middle
            upper[1] = lower[0] = (upper[1] + lower[0]) / 2
    label_map = np.zeros((size, size), dtype=np.uint8)
    for i, ((x, _, w, _), (top, bottom)) in enumerate(zip(boxes, spans, strict=True)):
        rows = slice(max(0, round(top)), max(0, round(bottom)))
        columns = slice(max(0, round(x * scale)), max(0, round((x + w) * scale)))
        label_map[rows, columns] = 1 + i % 2
    return label_map


def has_ink(page: np.ndarray, line: IamLine) -> bool:
    """Whether the line's box holds writing: a few form images lack a line their annotation lists (blank boxes)."""
    crop = normalize_ink(crop_line(page, line.box, 0))
    return crop.sum() / 255 >= MIN_INK_PER_CHARACTER * max(len(line.text), 1) * line.box[3] ** 2


@dataclass(frozen=True)
class Paragraph:
    """A form's handwritten part at page resolution: its inked lines in reading order, their boxes in crop pixels."""

    form_id: str
    split: str
    crop: np.ndarray  # greyscale, dark ink on light paper; empty when no line has ink
    lines: list[IamLine]
    boxes: list[Box]
    num_blank: int  # annotated lines the form image lacks, left out


def iam_paragraphs(iam: IamDataset, splits: Collection[str], margin: int) -> Iterator[Paragraph]:
    """Each form of `splits` (form id order) cut to the union of its inked line boxes grown by `margin`."""
    by_form: dict[str, list[IamLine]] = defaultdict(list)
    for line in iam.lines:
        if line.split in splits:
            by_form[line.form_id].append(line)
    for form_id, page in iam.form_images(sorted(by_form)):
        lines = sorted(by_form[form_id], key=lambda line: line.line_id)  # ids end in the line's number
        inked = [line for line in lines if has_ink(page, line)]
        x0, y0, w, h = paragraph_region([line.box for line in inked], page.shape[:2], margin) if inked else (0,) * 4
        boxes = [(x - x0, y - y0, bw, bh) for x, y, bw, bh in (line.box for line in inked)]
        crop = page[y0 : y0 + h, x0 : x0 + w]
        yield Paragraph(form_id, str(lines[0].split), crop, inked, boxes, num_blank=len(lines) - len(inked))


def paragraph_example(paragraph: Paragraph, size: int) -> tuple[np.ndarray, np.ndarray]:
    """(input image, label map) of a paragraph, `size` square."""
    image, scale = prepare_paragraph(paragraph.crop, size)
    return image, line_label_map(paragraph.boxes, scale, size)


def colour_label_map(label_map: np.ndarray) -> np.ndarray:
    """A BGR picture of a label map (see `COLOURS`)."""
    return COLOURS[label_map]


class IamParagraphsDataset(Dataset):
    """IAM form paragraphs `image_size` square with their line label maps; `num_classes` 3 (background, odd, even).

    Only lines with ink are labelled (and bound the paragraph): the dozen annotated lines a form image lacks (first or
    last lines of a few pages) would otherwise teach the detector to find lines on blank paper. Their number per split
    is in `stats`.

    Args:
        image_size: side of the square input images and label maps.
        margin: page pixels kept around the union of a form's line boxes.
        augment: whether `augment_batch` distorts training batches (see `paragraph_augmentation`) or leaves them be.
    """

    raw_name = IamDataset.raw_name

    def __init__(self, image_size: int = 256, margin: int = 32, augment: bool = True):
        self.image_size, self.margin, self.augment = image_size, margin, augment
        self.input_shape: tuple[int, ...] = (image_size, image_size)
        self.mapping = ["background", "odd line", "even line"]
        self.num_classes = len(self.mapping)
        self.preprocessing = {"method": "paragraph", "size": image_size}
        self.x_train = self.y_train = self.x_val = self.y_val = self.x_test = self.y_test = np.empty(0)
        self.form_ids: dict[str, list[str]] = {}
        self.stats: dict[str, Any] = {}
        self._rng = np.random.default_rng(0)

    def augment_batch(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """A training batch with each page and its label map distorted alike (if `augment`)."""
        # Imported here: it warps with Keras, which reading the data set (and `text_recognizer.datasets`) need not load.
        from text_recognizer.datasets.paragraph_augmentation import augment_paragraph_batch

        return augment_paragraph_batch(x, y, self._rng, self.num_classes) if self.augment else (x, y)

    def processed_filename(self) -> Path:
        params = {
            "version": PROCESSING_VERSION,
            "iam_sha256": self.raw_sha256(),
            "image_size": self.image_size,
            "margin": self.margin,
            "shrink": SHRINK,
        }
        return self.cache_filename("iam_paragraphs", params)

    def load_or_generate_data(self) -> None:
        arrays, attrs = self.load_cache(self.processed_filename(), self._build)
        self.form_ids = {split: list(arrays[f"ids_{split}"]) for split in SPLITS}
        self.stats = json.loads(attrs["stats"])

    def _build(self, path: Path) -> None:
        """Make every form's example, then write the cache to `path` (a temporary file)."""
        start = time.perf_counter()
        iam = IamDataset()
        iam.load_or_generate_data()
        examples: dict[str, list[tuple[str, np.ndarray, np.ndarray]]] = {split: [] for split in SPLITS}
        blank: dict[str, int] = dict.fromkeys(SPLITS, 0)
        num_forms = len({line.form_id for line in iam.lines if line.split in SPLITS})
        for paragraph in tqdm(iam_paragraphs(iam, SPLITS, self.margin), total=num_forms, desc="IAM paragraphs"):
            blank[paragraph.split] += paragraph.num_blank
            if paragraph.lines:
                examples[paragraph.split].append((paragraph.form_id, *paragraph_example(paragraph, self.image_size)))
        stats: dict[str, Any] = {}
        with h5py.File(path, "w") as f:
            for split, rows in examples.items():
                shape = (len(rows), self.image_size, self.image_size)
                x = np.stack([row[1] for row in rows]) if rows else np.zeros(shape, np.uint8)
                y = np.stack([row[2] for row in rows]) if rows else np.zeros(shape, np.uint8)
                f.create_dataset(f"x_{split}", data=x, compression="lzf" if rows else None)
                f.create_dataset(f"y_{split}", data=y, compression="lzf" if rows else None)
                f.create_dataset(f"ids_{split}", data=[row[0] for row in rows], dtype=h5py.string_dtype())
                stats[split] = {
                    "forms": len(rows),
                    "blank_lines_left_out": blank[split],
                    "label_fractions": (np.bincount(y.ravel(), minlength=3) / max(y.size, 1)).round(3).tolist(),
                }
            stats["build_seconds"] = round(time.perf_counter() - start, 1)
            f.attrs["stats"] = json.dumps(stats)

    def write_debug_images(self, num: int = 5) -> Path:
        """The first `num` training inputs and their coloured label maps as PNGs; gives the folder."""
        folder = self.data_dirname() / "interim" / "iam_paragraphs"
        folder.mkdir(parents=True, exist_ok=True)
        examples = zip(self.form_ids["train"][:num], self.x_train[:num], self.y_train[:num], strict=True)
        for form_id, image, label_map in examples:
            cv2.imwrite(str(folder / f"{form_id}_input.png"), image)
            overlay = np.maximum(colour_label_map(label_map) // 2, image[..., None])  # ink over the faded labels
            cv2.imwrite(str(folder / f"{form_id}_labels.png"), overlay)
        return folder

    def __repr__(self) -> str:
        return (
            f"IAM Paragraphs: {self.num_classes} classes, input {self.input_shape}, train {self.x_train.shape}, "
            f"validation {self.x_val.shape}, test {self.x_test.shape} {self.x_test.dtype}"
        )


if __name__ == "__main__":
    dataset = IamParagraphsDataset()
    dataset.load_or_generate_data()
    print(dataset)
    print(json.dumps(dataset.stats, indent=1))
    print(f"debug images in {dataset.write_debug_images()}")
