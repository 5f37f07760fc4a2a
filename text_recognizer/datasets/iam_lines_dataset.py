"""IAM handwritten lines cut from the form pages: fixed-height uint8 images, white ink on black, with label sequences.

    TEXT_RECOGNIZER_DATA_MIRROR=/work/shared/data/raw python -m text_recognizer.datasets.iam_lines_dataset

builds (or loads) the cache under `data/processed/iam_lines/` and prints statistics. Each line is cropped with a small
margin, inverted, stretched so that paper is 0 and the darkest ink 255, scaled to `image_height` keeping its aspect,
squeezed to `max_width` only if wider, and padded on the right with black. Targets are labels in the EMNIST mapping,
padded to `max_length` with `_` (also the CTC blank). Splits are IAM's: train, validation (`x_val`) and test.
"""

import hashlib
import json
import os
import time
import unicodedata
import zipfile
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import cv2
import h5py
import numpy as np
from tqdm import tqdm

from text_recognizer.datasets.dataset import Dataset
from text_recognizer.datasets.emnist_dataset import EmnistDataset
from text_recognizer.datasets.iam_dataset import IamDataset, IamLine

PADDING_TOKEN = "_"
SPLITS = ("train", "validation", "test")
# Bump when the way crops are made changes, so that no stale cache is reused.
PROCESSING_VERSION = 1
# Characters outside the mapping, by their nearest symbol in it; others lose their accents or are dropped.
REPLACEMENTS = {"[": "(", "]": ")", "{": "(", "}": ")", "`": "'", "\u2018": "'", "\u2019": "'", "\u201c": '"',
                "\u201d": '"', "\u2013": "-", "\u2014": "-", "_": "-", "%": "/", ">": ")", "<": "("}  # fmt: skip


def normalize_ink(image: np.ndarray) -> np.ndarray:
    """Greyscale dark ink on light paper to white ink on black: paper (the median) 0, the darkest ink 255."""
    inverted = 255 - image.astype(np.float32)
    paper = float(np.median(inverted))
    ink = max(float(inverted.max()), paper + 1)
    return np.clip((inverted - paper) * (255 / (ink - paper)), 0, 255).astype(np.uint8)


def fit_to_shape(image: np.ndarray, height: int, max_width: int) -> tuple[np.ndarray, bool]:
    """`image` scaled to `height` keeping its aspect (squeezed if wider than `max_width`), padded right with black.

    Also says whether it had to be squeezed.
    """
    width = max(1, round(image.shape[1] * height / image.shape[0]))
    squeezed = width > max_width
    width = min(width, max_width)
    interpolation = cv2.INTER_AREA if image.shape[0] > height else cv2.INTER_LINEAR
    resized = cv2.resize(image, (width, height), interpolation=interpolation)
    return np.pad(resized, ((0, 0), (0, max_width - width))), squeezed


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
    """

    raw_name = IamDataset.raw_name

    def __init__(self, image_height: int = 64, max_width: int = 1280, margin: int = 8, max_length: int = 100):
        emnist = EmnistDataset()  # for its mapping only: no data is loaded
        self.mapping = emnist.mapping
        self.inverse_mapping = emnist.inverse_mapping
        self.num_classes = emnist.num_classes
        self.padding_label = self.inverse_mapping[PADDING_TOKEN]
        self.input_shape: tuple[int, ...] = (image_height, max_width)
        self.output_length = max_length
        self.image_height, self.max_width, self.margin, self.max_length = image_height, max_width, margin, max_length
        self.x_train = self.y_train = self.x_val = self.y_val = self.x_test = self.y_test = np.empty(0)
        self.texts: dict[str, list[str]] = {}
        self.line_ids: dict[str, list[str]] = {}
        self.stats: dict[str, Any] = {}

    def processed_filename(self) -> Path:
        params = {
            "version": PROCESSING_VERSION,
            "iam_sha256": self.raw_sha256(),
            "image_height": self.image_height,
            "max_width": self.max_width,
            "margin": self.margin,
            "max_length": self.max_length,
            "mapping": self.mapping,
        }
        key = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:16]
        return self.data_dirname() / "processed" / "iam_lines" / f"{key}.h5"

    def load_or_generate_data(self) -> None:
        path = self.processed_filename()
        if not path.exists():
            self._build(path)
        with h5py.File(path, "r") as f:
            self.x_train, self.y_train = f["x_train"][:], f["y_train"][:]
            self.x_val, self.y_val = f["x_validation"][:], f["y_validation"][:]
            self.x_test, self.y_test = f["x_test"][:], f["y_test"][:]
            self.texts = {split: list(f[f"texts_{split}"].asstr()[:]) for split in SPLITS}
            self.line_ids = {split: list(f[f"ids_{split}"].asstr()[:]) for split in SPLITS}
            self.stats = json.loads(f.attrs["stats"])

    def _build(self, path: Path) -> None:
        """Crop every line of the three splits from its form, then write the cache to a temporary file and rename."""
        start = time.perf_counter()
        iam = IamDataset()
        iam.load_or_generate_data()
        alphabet = set(self.mapping) - {PADDING_TOKEN}
        by_form: dict[str, list[IamLine]] = defaultdict(list)
        for line in iam.lines:
            if line.split in SPLITS:
                by_form[line.form_id].append(line)
        images: dict[str, np.ndarray] = {}
        outside: Counter[str] = Counter()
        squeezed: Counter[str] = Counter()
        assert iam.zip_path is not None  # set by load_or_generate_data
        with zipfile.ZipFile(iam.zip_path) as archive:
            for form_id, lines in tqdm(sorted(by_form.items()), desc="IAM lines", unit="form"):
                page = iam.read_form_image(form_id, archive)
                for line in lines:
                    x, y, w, h = line.box
                    m = self.margin
                    crop = page[max(0, y - m) : y + h + m, max(0, x - m) : x + w + m]
                    images[line.line_id], was_squeezed = fit_to_shape(
                        normalize_ink(crop), self.image_height, self.max_width
                    )
                    squeezed[line.split] += was_squeezed
        columns: dict[str, list[Any]] = {split: [] for split in SPLITS}
        too_long: Counter[str] = Counter()
        for line in iam.lines:
            if line.split not in SPLITS:
                continue
            text, chars_outside = to_alphabet(line.text, alphabet)
            outside.update(chars_outside)
            if len(text) > self.max_length:
                too_long[line.split] += 1
                continue
            columns[line.split].append((line.line_id, text, images[line.line_id], line.box))
        stats: dict[str, Any] = {"build_seconds": 0.0, "skipped_without_image": iam.num_skipped}
        stats["replaced_characters"] = dict(outside)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".part")
        with h5py.File(partial, "w") as f:
            for split, rows in columns.items():
                ids, texts, crops, boxes = zip(*rows, strict=True)
                y = np.full((len(texts), self.max_length), self.padding_label, dtype=np.int32)
                for i, text in enumerate(texts):
                    y[i, : len(text)] = [self.inverse_mapping[char] for char in text]
                x = np.stack(crops)
                f.create_dataset(f"x_{split}", data=x, compression="lzf", chunks=(1, *x.shape[1:]))
                f.create_dataset(f"y_{split}", data=y)
                f.create_dataset(f"texts_{split}", data=list(texts), dtype=h5py.string_dtype())
                f.create_dataset(f"ids_{split}", data=list(ids), dtype=h5py.string_dtype())
                stats[split] = _split_stats(x, texts, np.array(boxes), squeezed[split], too_long[split])
            stats["build_seconds"] = round(time.perf_counter() - start, 1)
            f.attrs["stats"] = json.dumps(stats)
        os.replace(partial, path)

    def __repr__(self) -> str:
        return (
            f"IAM Lines: {self.num_classes} classes, input {self.input_shape}, output length {self.output_length}, "
            f"train {self.x_train.shape}, validation {self.x_val.shape}, test {self.x_test.shape} {self.x_test.dtype}"
        )


def _split_stats(x: np.ndarray, texts: tuple[str, ...], boxes: np.ndarray, squeezed: int, too_long: int) -> dict:
    """What a split holds: line count, page box sizes, used image widths, text lengths and characters."""
    used_widths = (x.max(axis=1) > 0).shape[1] - np.argmax((x.max(axis=1) > 0)[:, ::-1], axis=1)
    quantiles = [0, 5, 50, 95, 100]

    def summary(values: np.ndarray) -> list[int]:
        return [int(v) for v in np.percentile(values, quantiles)]

    return {
        "lines": len(texts),
        "box_width_p0_5_50_95_100": summary(boxes[:, 2]),
        "box_height_p0_5_50_95_100": summary(boxes[:, 3]),
        "used_width_p0_5_50_95_100": summary(used_widths),
        "text_length_p0_5_50_95_100": summary(np.array([len(t) for t in texts])),
        "squeezed": squeezed,
        "left_out_too_long": too_long,
        "characters": "".join(sorted(set("".join(texts)))),
    }


if __name__ == "__main__":
    dataset = IamLinesDataset()
    dataset.load_or_generate_data()
    print(dataset)
    print(json.dumps(dataset.stats, indent=1))
    unused = sorted(set(dataset.mapping) - set(dataset.stats["train"]["characters"]) - {PADDING_TOKEN})
    print(f"mapping characters never in train: {''.join(unused)!r}")
