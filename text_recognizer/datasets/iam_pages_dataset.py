"""IAM whole pages: each form as its network sees it at a fixed scale, with a per-pixel map of its lines.

    TEXT_RECOGNIZER_DATA_MIRROR=/work/shared/data/raw python -m text_recognizer.datasets.iam_pages_dataset

builds (or loads) the cache under `data/processed/iam_pages/`, prints a summary and writes a few debug images under
`data/interim/iam_pages/`. Each form of the archive is one page, as it is there: the original greyscale scan (`.jpg`,
with the printed header, rules and the "Name:" line) or the binarized handwriting (`.png`). `prepare_page` scales it
to `width` pixels wide (2479 -> 620 by default: a handwritten line is then 20-30 pixels high) and pads it to
multiples of `multiple`. The label map has 0 for background, 1 and 2 for the odd and even handwritten lines (the
official boxes, shrunk as in `IamParagraphsDataset`) and 3 for the lines of printed text.

The printed text is found from the form's layout, not labelled by hand: an IAM form prints the text to copy between
two long horizontal rules above the handwriting. Long rules are found with a morphological opening; between the last
two above the first handwritten line, each run of rows holding ink is a printed line, boxed by that ink. A binarized
page has no rules, hence no printed lines. Splits are IAM's (a form's lines share one).
"""

import json
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import cv2
import h5py
import numpy as np
from tqdm import tqdm

from text_recognizer.datasets.dataset import Dataset
from text_recognizer.datasets.iam_dataset import Box, IamDataset, IamLine
from text_recognizer.datasets.iam_paragraphs_dataset import COLOURS, has_ink, line_label_map
from text_recognizer.preprocessing import normalize_ink, prepare_page

SPLITS = ("train", "validation", "test")
# Bump when the way images or label maps are made changes, so that no stale cache is reused.
PROCESSING_VERSION = 2
PRINTED = 3  # the label of printed text
IAM_PAGE_WIDTH = 2479  # pixels; the sizes below are in the pixels of a page this wide
# A rule is a run of ink at least this share of the page width long (the printed words are much shorter).
MIN_RULE_FRACTION = 0.3
# Page rows with fewer inked pixels than this are gaps between printed lines; printed lines lower than this many page
# pixels are dust or a rule's ragged edge.
MIN_ROW_INK = 3
MIN_PRINTED_HEIGHT = 12
# Fraction of a printed line's height taken off its top and bottom in the label map: printed lines are set close
# (about 8 page pixels of leading, 2 at the prepared scale), too close for a detector of stride 4 to keep apart.
PRINTED_SHRINK = 0.25
# How far (page pixels) from a rule the printed text starts: the rule's own blur is not text.
RULE_CLEARANCE = 8
EDGE_FRACTION = 0.03  # of the page width, left out at either side when looking for printed text
RULE_PIECE_GAP = 15  # page rows between the pieces of one rule
# Label map colours of the debug images (BGR): the paragraph data set's, and printed text blue.
PAGE_COLOURS = np.concatenate([COLOURS, [[230, 120, 30]]]).astype(np.uint8)


def find_rules(page: np.ndarray) -> list[Box]:
    """Boxes (x, y, w, h) of the long horizontal rules of a page (greyscale, dark ink on light), top to bottom."""
    # Thickened first: a thin rule scanned a little askew, or faintly, is then one unbroken band.
    ink = cv2.dilate((normalize_ink(page) > 64).astype(np.uint8), np.ones((5, 5), np.uint8))
    length = max(1, int(MIN_RULE_FRACTION * page.shape[1]))
    # Opening with a long flat kernel keeps only horizontal strokes at least that long: rules, not words.
    lines = cv2.morphologyEx(ink, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (length, 1)))
    count, _, stats, _ = cv2.connectedComponentsWithStats(lines)
    rules: list[Box] = []
    for x, y, w, h, _ in sorted(stats[1:count].tolist(), key=lambda row: row[1]):
        # A rule scanned a little askew breaks into pieces at nearly the same height: they are one rule.
        if rules and y - rules[-1][1] <= RULE_PIECE_GAP:
            rx, ry, rw, rh = rules[-1]
            left, right = min(rx, x), max(rx + rw, x + w)
            rules[-1] = (left, ry, right - left, max(ry + rh, y + h) - ry)
        else:
            rules.append((x, y, w, h))
    return rules


def printed_lines(page: np.ndarray, first_handwritten_top: int) -> list[Box]:
    """Boxes (page pixels) of the printed lines between the last two rules above the first handwritten line.

    A page of another width than IAM's scans is looked at scaled to that width (the sizes here are in its pixels).
    """
    factor = IAM_PAGE_WIDTH / page.shape[1]
    if factor != 1:
        scaled = cv2.resize(page, (IAM_PAGE_WIDTH, round(page.shape[0] * factor)), interpolation=cv2.INTER_LINEAR)
        boxes = printed_lines(scaled, round(first_handwritten_top * factor))
        return [(round(x / factor), round(y / factor), round(w / factor), round(h / factor)) for x, y, w, h in boxes]
    rules = [rule for rule in find_rules(page) if rule[1] + rule[3] <= first_handwritten_top]
    if len(rules) < 2:
        return []
    (_, upper_y, _, upper_h), (_, lower_y, _, _) = rules[-2:]
    top, bottom = upper_y + upper_h + RULE_CLEARANCE, lower_y - RULE_CLEARANCE
    if bottom <= top:
        return []
    # Not at the page's very edges: the scanner leaves a dark edge there, which is not text.
    left = round(EDGE_FRACTION * page.shape[1])
    band = normalize_ink(page[top:bottom, left : page.shape[1] - left]) > 96
    rows = band.sum(axis=1) >= MIN_ROW_INK
    boxes = []
    # Runs of inked rows: each is one printed line (their leading leaves blank rows between them).
    edges = np.flatnonzero(np.diff(np.concatenate([[0], rows.astype(np.int8), [0]])))
    for start, stop in zip(edges[::2], edges[1::2], strict=True):
        if stop - start < MIN_PRINTED_HEIGHT:
            continue
        columns = np.flatnonzero(band[start:stop].any(axis=0))
        x0, x1 = left + int(columns[0]), left + int(columns[-1]) + 1
        boxes.append((x0, top + int(start), x1 - x0, int(stop - start)))
    return boxes


def page_label_map(handwritten: list[Box], printed: list[Box], scale: float, shape: tuple[int, int]) -> np.ndarray:
    """(height, width) uint8 map of a page prepared at `scale`: 1/2 odd/even handwritten lines (in the given order,
    shrunk as `line_label_map` does), 3 printed lines (shrunk by `PRINTED_SHRINK`), 0 elsewhere."""
    height, width = shape
    label_map = line_label_map(handwritten, scale, max(shape))[:height, :width].copy()
    for x, y, w, h in printed:
        top, bottom = (y + PRINTED_SHRINK * h) * scale, (y + (1 - PRINTED_SHRINK) * h) * scale
        label_map[round(top) : round(bottom), round(x * scale) : round((x + w) * scale)] = PRINTED
    return label_map


class IamPagesDataset(Dataset):
    """Whole IAM form pages `width` wide with their label maps; `num_classes` 4 (background, odd, even, printed).

    Each form is one page, scan or binarized as the archive holds it (`kinds`); the handwritten lines of a page are its
    inked ones (a form image lacking an annotated line must not teach that blank paper is a line). `layout` keeps per
    form its kind and its handwritten (with their texts) and printed line boxes in page pixels, for evaluation.

    Args:
        width: width of a prepared page; its height follows from the page's aspect.
        multiple: sides are padded to a multiple of this (the detector's stride).
        crop: (height, width) of the random training windows `augment_batch` cuts (see `page_augmentation`).
        augment: whether `augment_batch` distorts training batches, or only cuts windows.
    """

    raw_name = IamDataset.raw_name

    def __init__(self, width: int = 620, multiple: int = 8, crop: tuple[int, int] = (512, 384), augment: bool = True):
        self.width, self.multiple, self.augment = width, multiple, augment
        self.crop = (int(crop[0]), int(crop[1]))  # JSON configs give a list
        self.input_shape: tuple[Any, ...] = (None, None)  # any size: the detector is fully convolutional
        self.mapping = ["background", "odd line", "even line", "printed"]
        self.num_classes = len(self.mapping)
        self.preprocessing = {"method": "page", "width": width, "multiple": multiple}
        self.x_train = self.y_train = self.x_val = self.y_val = self.x_test = self.y_test = np.empty(0)
        self.form_ids: dict[str, list[str]] = {}
        self.layout: dict[str, dict[str, Any]] = {}
        self.stats: dict[str, Any] = {}
        self._rng = np.random.default_rng(0)

    def augment_batch(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """A training batch of random windows, each cut from a page and its label map alike (distorted if `augment`)."""
        # Imported here: reading the data set needs none of the augmentation.
        from text_recognizer.datasets.page_augmentation import augment_page_batch

        return augment_page_batch(x, y, self._rng, self.crop, distort=self.augment)

    def processed_filename(self) -> Path:
        params = {
            "version": PROCESSING_VERSION,
            "iam_sha256": self.raw_sha256(),
            "width": self.width,
            "multiple": self.multiple,
            "rule_fraction": MIN_RULE_FRACTION,
            "printed_shrink": PRINTED_SHRINK,
        }
        return self.cache_filename("iam_pages", params)

    def load_or_generate_data(self) -> None:
        arrays, attrs = self.load_cache(self.processed_filename(), self._build)
        self.form_ids = {split: list(arrays[f"ids_{split}"]) for split in SPLITS}
        self.layout = json.loads(attrs["layout"])
        self.stats = json.loads(attrs["stats"])

    def kinds(self, split: str) -> list[str]:
        """The kind of each page of a split: "scan" or "binarized"."""
        return [self.layout[form_id]["kind"] for form_id in self.form_ids[split]]

    def _build(self, path: Path) -> None:
        """Make every form's page and label map, then write the cache to `path` (a temporary file)."""
        start = time.perf_counter()
        iam = IamDataset()
        iam.load_or_generate_data()
        by_form: dict[str, list[IamLine]] = defaultdict(list)
        for line in iam.lines:
            if line.split in SPLITS:
                by_form[line.form_id].append(line)
        examples: dict[str, list[tuple[str, np.ndarray, np.ndarray]]] = {split: [] for split in SPLITS}
        layout: dict[str, dict[str, Any]] = {}
        for form_id, page in tqdm(iam.form_images(sorted(by_form)), total=len(by_form), desc="IAM pages"):
            lines = [line for line in sorted(by_form[form_id], key=lambda line: line.line_id) if has_ink(page, line)]
            if not lines:
                continue
            kind = "scan" if iam.form_members[form_id].lower().endswith(".jpg") else "binarized"
            printed = printed_lines(page, min(line.box[1] for line in lines))
            image, scale = prepare_page(page, self.width, self.multiple)
            label_map = page_label_map([line.box for line in lines], printed, scale, image.shape)
            split = str(lines[0].split)
            examples[split].append((form_id, image, label_map))
            layout[form_id] = {
                "kind": kind,
                "split": split,
                "page_shape": list(page.shape),
                "scale": scale,
                "handwritten": [{"box": list(line.box), "text": line.text} for line in lines],
                "printed": [list(box) for box in printed],
            }
        stats: dict[str, Any] = {}
        with h5py.File(path, "w") as f:
            for split, rows in examples.items():
                # Pages of one archive share a size; any other is padded (or cut) to the first one's.
                shape = rows[0][1].shape if rows else (0, 0)
                x = np.zeros((len(rows), *shape), np.uint8)
                y = np.zeros((len(rows), *shape), np.uint8)
                for i, (_, image, label_map) in enumerate(rows):
                    h, w = min(shape[0], image.shape[0]), min(shape[1], image.shape[1])
                    x[i, :h, :w], y[i, :h, :w] = image[:h, :w], label_map[:h, :w]
                f.create_dataset(f"x_{split}", data=x, compression="lzf" if rows else None)
                f.create_dataset(f"y_{split}", data=y, compression="lzf" if rows else None)
                f.create_dataset(f"ids_{split}", data=[row[0] for row in rows], dtype=h5py.string_dtype())
                kinds = [layout[row[0]]["kind"] for row in rows]
                stats[split] = {
                    "pages": len(rows),
                    "scans": kinds.count("scan"),
                    "scans_with_printed_lines": sum(bool(layout[row[0]]["printed"]) for row in rows),
                    "label_fractions": (np.bincount(y.ravel(), minlength=4) / max(y.size, 1)).round(3).tolist(),
                }
            stats["build_seconds"] = round(time.perf_counter() - start, 1)
            f.attrs["stats"] = json.dumps(stats)
            f.attrs["layout"] = json.dumps(layout)

    def write_debug_images(self, num: int = 4) -> Path:
        """The first `num` test pages of each kind with their coloured label maps as PNGs; gives the folder."""
        folder = self.data_dirname() / "interim" / "iam_pages"
        folder.mkdir(parents=True, exist_ok=True)
        for kind in ("scan", "binarized"):
            rows = [i for i, k in enumerate(self.kinds("test")) if k == kind][:num]
            for i in rows:
                overlay = np.maximum(PAGE_COLOURS[self.y_test[i]] // 2, self.x_test[i][..., None])
                cv2.imwrite(str(folder / f"{self.form_ids['test'][i]}_{kind}.png"), overlay)
        return folder

    def __repr__(self) -> str:
        return (
            f"IAM Pages: {self.num_classes} classes, pages {self.width} wide, train {self.x_train.shape}, "
            f"validation {self.x_val.shape}, test {self.x_test.shape} {self.x_test.dtype}"
        )


if __name__ == "__main__":
    dataset = IamPagesDataset()
    dataset.load_or_generate_data()
    print(dataset)
    print(json.dumps(dataset.stats, indent=1))
    print(f"debug images in {dataset.write_debug_images()}")
