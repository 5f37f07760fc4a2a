"""IAM handwritten lines cut from the form pages: fixed-height uint8 images, white ink on black, with label sequences.

    TEXT_RECOGNIZER_DATA_MIRROR=/work/shared/data/raw python -m text_recognizer.datasets.iam_lines_dataset

builds (or loads) the cache under `data/processed/iam_lines/` and prints statistics. Each line is cropped with a small
margin, inverted, stretched so that paper is 0 and the darkest ink 255, scaled to `image_height` keeping its aspect,
squeezed to `max_width` only if wider, and padded on the right with black; lines left blank by their form image are
left out. Targets are labels in the EMNIST mapping, padded to `max_length` with `_` (also the CTC blank). Splits are
IAM's: train, validation (`x_val`) and test.
"""

import json
import time
import unicodedata
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import h5py
import numpy as np
from tqdm import tqdm

from text_recognizer.datasets.dataset import Dataset
from text_recognizer.datasets.emnist_dataset import PADDING_TOKEN, EmnistDataset
from text_recognizer.datasets.iam_dataset import Box, IamDataset, IamLine
from text_recognizer.datasets.line_augmentation import augment_line_batch
from text_recognizer.preprocessing import as_page, find_line, prepare_line

SPLITS = ("train", "validation", "test")
# Bump when the way crops are made changes, so that no stale cache is reused.
PROCESSING_VERSION = 3
# Least ink a line must have, per character, as a fraction of a square as high as the line: some form images lack
# some of their lines (blank crops: 0 to 0.0015 here), and the faintest real writing has about 0.003.
MIN_INK_PER_CHARACTER = 0.002
# Characters outside the mapping, by their nearest symbol in it; others lose their accents or are dropped.
REPLACEMENTS = {"[": "(", "]": ")", "{": "(", "}": ")", "`": "'", "\u2018": "'", "\u2019": "'", "\u201c": '"',
                "\u201d": '"', "\u2013": "-", "\u2014": "-", "_": "-"}  # fmt: skip


def crop_line(page: np.ndarray, box: Box, margin: int) -> np.ndarray:
    """The part of `page` inside `box` (x, y, width, height) grown by `margin` pixels on every side."""
    x, y, w, h = box
    return page[max(0, y - margin) : y + h + margin, max(0, x - margin) : x + w + margin]


def to_alphabet(text: str, alphabet: set[str]) -> tuple[str, list[str]]:
    """`text` with only characters of `alphabet` (replaced as in REPLACEMENTS, else unaccented or dropped).

    Also gives the characters that were not in `alphabet`.
    """
    kept, outside = [], []
    for char in text:
        if char in alphabet:
            kept.append(char)
            continue
        outside.append(char)
        replacement = REPLACEMENTS.get(char) or unicodedata.normalize("NFKD", char).encode("ascii", "ignore").decode()
        kept.extend(c for c in replacement if c in alphabet)
    return "".join(kept), outside


class IamLinesDataset(Dataset):
    """IAM lines `image_height` x `max_width`, with label sequences of `max_length`.

    Args:
        image_height: height of every line image.
        max_width: width of every line image; wider lines are squeezed to it (about 5% at the defaults).
        margin: page pixels kept around each official line box.
        max_length: length of the padded targets; longer lines (none in IAM, at most 93 characters) are left out.
        augment: whether `augment_batch` distorts training batches (see `line_augmentation`) or leaves them be.
        find_line: whether each crop goes through `preprocessing.find_line` first (the "found_line" preparation), as a
            predictor then prepares lines however loosely they are cut.
    """

    raw_name = IamDataset.raw_name

    def __init__(
        self,
        image_height: int = 64,
        max_width: int = 1280,
        margin: int = 8,
        max_length: int = 100,
        augment: bool = True,
        find_line: bool = False,
    ):
        emnist = EmnistDataset()  # for its mapping only: no data is loaded
        self.mapping = emnist.mapping
        self.inverse_mapping = emnist.inverse_mapping
        self.num_classes = emnist.num_classes
        self.padding_label = self.inverse_mapping[PADDING_TOKEN]
        self.input_shape: tuple[int, ...] = (image_height, max_width)
        # How a line image becomes an input, here and at prediction (see `preprocessing.prepare`).
        self.preprocessing: dict[str, Any] = {"method": "line", "height": image_height, "max_width": max_width}
        if find_line:
            self.preprocessing = {**self.preprocessing, "method": "found_line", "margin": margin}
        self.find_line = find_line
        self.output_length = max_length
        self.image_height, self.max_width, self.margin, self.max_length = image_height, max_width, margin, max_length
        self.x_train = self.y_train = self.x_val = self.y_val = self.x_test = self.y_test = np.empty(0)
        self.texts: dict[str, list[str]] = {}
        self.line_ids: dict[str, list[str]] = {}
        self.stats: dict[str, Any] = {}
        self.augment = augment
        self._rng = np.random.default_rng(0)

    def augment_batch(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """A training batch with each line randomly distorted (if `augment`); the targets unchanged."""
        return augment_line_batch(x, y, self._rng) if self.augment else (x, y)

    def processed_filename(self) -> Path:
        params = {
            "version": PROCESSING_VERSION,
            "iam_sha256": self.raw_sha256(),
            "image_height": self.image_height,
            "max_width": self.max_width,
            "margin": self.margin,
            "max_length": self.max_length,
            "mapping": self.mapping,
            # Only when set: the caches made before there was a choice keep their names.
            **({"find_line": True} if self.find_line else {}),
        }
        return self.cache_filename("iam_lines", params)

    def load_or_generate_data(self) -> None:
        arrays, attrs = self.load_cache(self.processed_filename(), self._build)
        self.texts = {split: list(arrays[f"texts_{split}"]) for split in SPLITS}
        self.line_ids = {split: list(arrays[f"ids_{split}"]) for split in SPLITS}
        self.stats = json.loads(attrs["stats"])

    def _build(self, path: Path) -> None:
        """Crop every line of the three splits from its form, then write the cache to `path` (a temporary file)."""
        start = time.perf_counter()
        iam = IamDataset()
        iam.load_or_generate_data()
        alphabet = set(self.mapping) - {PADDING_TOKEN}
        by_form: dict[str, list[IamLine]] = defaultdict(list)
        for line in iam.lines:
            if line.split in SPLITS:
                by_form[line.form_id].append(line)
        rows: dict[str, list[tuple[str, str, np.ndarray, int]]] = {split: [] for split in SPLITS}
        outside: Counter[str] = Counter()
        too_long: Counter[str] = Counter()
        blank: Counter[str] = Counter()
        for form_id, page in tqdm(iam.form_images(sorted(by_form)), total=len(by_form), desc="IAM forms"):
            for line in by_form[form_id]:
                split = str(line.split)
                text, chars_outside = to_alphabet(line.text, alphabet)
                outside.update(chars_outside)
                if len(text) > self.max_length:
                    too_long[split] += 1
                    continue
                crop = as_page(crop_line(page, line.box, self.margin))
                if self.find_line:  # the "found_line" preparation: `preprocessing.prepare` does the same
                    crop = find_line(crop, self.margin)[0]
                image, natural_width = prepare_line(crop, self.image_height, self.max_width)
                if image.sum() / 255 < MIN_INK_PER_CHARACTER * max(len(text), 1) * self.image_height**2:
                    blank[split] += 1
                    continue
                rows[split].append((line.line_id, text, image, natural_width))
        stats: dict[str, Any] = {"skipped_without_image": iam.num_skipped, "replaced_characters": dict(outside)}
        with h5py.File(path, "w") as f:
            for split, split_rows in rows.items():
                ids, texts = [row[0] for row in split_rows], [row[1] for row in split_rows]
                x = np.zeros((len(split_rows), *self.input_shape), dtype=np.uint8)
                y = np.full((len(split_rows), self.max_length), self.padding_label, dtype=np.int32)
                for i, (_, text, image, _) in enumerate(split_rows):
                    x[i] = image
                    y[i, : len(text)] = [self.inverse_mapping[char] for char in text]
                # Chunks of one line each: cheap to compress, and h5py accepts no chunking of an empty split.
                chunking = {"compression": "lzf", "chunks": (1, *self.input_shape)} if len(x) else {}
                f.create_dataset(f"x_{split}", data=x, **chunking)
                f.create_dataset(f"y_{split}", data=y)
                f.create_dataset(f"texts_{split}", data=texts, dtype=h5py.string_dtype())
                f.create_dataset(f"ids_{split}", data=ids, dtype=h5py.string_dtype())
                widths = [row[3] for row in split_rows]
                stats[split] = {
                    "lines": len(texts),
                    "left_out_too_long": too_long[split],
                    "left_out_blank": blank[split],
                    "squeezed_to_max_width": sum(width > self.max_width for width in widths),
                    "scaled_width_p0_5_50_95_100": _percentiles(widths),
                    "text_length_p0_5_50_95_100": _percentiles([len(text) for text in texts]),
                    "characters": "".join(sorted(set("".join(texts)))),
                }
            stats["build_seconds"] = round(time.perf_counter() - start, 1)
            f.attrs["stats"] = json.dumps(stats)

    def __repr__(self) -> str:
        return (
            f"IAM Lines: {self.num_classes} classes, input {self.input_shape}, output length {self.output_length}, "
            f"train {self.x_train.shape}, validation {self.x_val.shape}, test {self.x_test.shape} {self.x_test.dtype}"
        )


def _percentiles(values: list[int]) -> list[int]:
    return [int(v) for v in np.percentile(values, [0, 5, 50, 95, 100])] if values else []


if __name__ == "__main__":
    dataset = IamLinesDataset()
    dataset.load_or_generate_data()
    print(dataset)
    print(json.dumps(dataset.stats, indent=1))
    unused = sorted(set(dataset.mapping) - set(dataset.stats["train"]["characters"]) - {PADDING_TOKEN})
    print(f"mapping characters never in train: {''.join(unused)!r}")
