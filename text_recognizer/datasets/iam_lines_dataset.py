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
from text_recognizer.datasets.emnist_dataset import PADDING_TOKEN
from text_recognizer.datasets.iam_dataset import Box, IamDataset, IamLine
from text_recognizer.datasets.line_images import LineImages
from text_recognizer.preprocessing import as_page

SPLITS = ("train", "validation", "test")
# Bump when the way crops are made changes, so that no stale cache is reused.
PROCESSING_VERSION = 3
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


class IamLinesDataset(LineImages, Dataset):
    """IAM lines `image_height` x `max_width`, with label sequences of `max_length` (none of IAM's lines, at most 93
    characters, is longer than the default); the arguments are `LineImages`'."""

    raw_name = IamDataset.raw_name

    def processed_filename(self) -> Path:
        params = {
            "version": PROCESSING_VERSION,
            "iam_sha256": self.raw_sha256(),
            **self.line_params(),
        }
        return self.cache_filename("iam_lines", params)

    def load_or_generate_data(self) -> None:
        self.read_texts(*self.load_cache(self.processed_filename(), self._build), SPLITS)

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
                image, natural_width = self.prepare_crop(as_page(crop_line(page, line.box, self.margin)))
                if self.too_faint(image, text):
                    blank[split] += 1
                    continue
                rows[split].append((line.line_id, text, image, natural_width))
        stats: dict[str, Any] = {"skipped_without_image": iam.num_skipped, "replaced_characters": dict(outside)}
        with h5py.File(path, "w") as f:
            for split, split_rows in rows.items():
                texts = [row[1] for row in split_rows]
                self.write_split(f, split, [row[0] for row in split_rows], texts, [row[2] for row in split_rows])
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
