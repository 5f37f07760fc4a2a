"""What every handwritten line data set shares with IAM's lines: EMNIST's mapping, the input shape, how a crop becomes
a line image (the preparation a predictor repeats on a user's line), which lines are too faint to keep, augmentation,
and the cache's layout.

    >>> from text_recognizer.datasets import IamLinesDataset
    >>> lines = IamLinesDataset(find_line=True)
    >>> lines.preprocessing
    {'method': 'found_line', 'height': 64, 'max_width': 1280, 'margin': 8}
    >>> page = np.full((120, 900), 255, np.uint8); page[40:80, 100:700] = 0   # a crop of a page: ink on paper
    >>> image, natural_width = lines.prepare_crop(page)
    >>> image.shape, natural_width
    ((64, 1280), ...)

`IamLinesDataset` and `LinesDataset` (any imported source) are `LineImages`, so that one model trains and reads on
both, and `MixedLinesDataset` can mix them.
"""

import json
from typing import Any

import h5py
import numpy as np

from text_recognizer.datasets.emnist_dataset import PADDING_TOKEN, EmnistDataset
from text_recognizer.datasets.line_augmentation import augment_line_batch
from text_recognizer.preprocessing import find_line, prepare_line

# Least ink a line must have, per character, as a fraction of a square as high as the line: some form images lack
# some of their lines (blank crops: 0 to 0.0015 in IAM), and the faintest real writing has about 0.003.
MIN_INK_PER_CHARACTER = 0.002


class LineImages:
    """Line images `image_height` x `max_width` (uint8, white ink on black), label sequences of `max_length`.

    Args:
        image_height: height of every line image.
        max_width: width of every line image; wider lines are squeezed to it (about 5% of IAM's).
        margin: page pixels kept around each line's box (and around its ink, with `find_line`).
        max_length: length of the padded targets; longer lines are left out.
        augment: whether `augment_batch` distorts training batches (see `line_augmentation`) or leaves them be.
        find_line: whether each crop goes through `preprocessing.find_line` first (the "found_line" preparation), so
            that a predictor prepares lines the same way however loosely they are cut.
    """

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
        self.mapping, self.inverse_mapping = emnist.mapping, emnist.inverse_mapping
        self.num_classes = emnist.num_classes
        self.padding_label = self.inverse_mapping[PADDING_TOKEN]
        self.input_shape: tuple[int, ...] = (image_height, max_width)
        # How a line image becomes an input, here and at prediction (see `preprocessing.prepare`).
        self.preprocessing: dict[str, Any] = {"method": "line", "height": image_height, "max_width": max_width}
        if find_line:
            self.preprocessing = {**self.preprocessing, "method": "found_line", "margin": margin}
        self.output_length = max_length
        self.image_height, self.max_width, self.margin, self.max_length = image_height, max_width, margin, max_length
        self.augment, self.find_line = augment, find_line
        self.x_train = self.y_train = self.x_val = self.y_val = self.x_test = self.y_test = np.empty(0)
        self.texts: dict[str, list[str]] = {}
        self.line_ids: dict[str, list[str]] = {}
        self.stats: dict[str, Any] = {}
        self._rng = np.random.default_rng(0)

    def augment_batch(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """A training batch with each line randomly distorted (if `augment`); the targets unchanged."""
        return augment_line_batch(x, y, self._rng) if self.augment else (x, y)

    def line_params(self) -> dict[str, Any]:
        """What the line images depend on, for a cache's key."""
        return {
            "image_height": self.image_height,
            "max_width": self.max_width,
            "margin": self.margin,
            "max_length": self.max_length,
            "mapping": self.mapping,
            # Only when set: the caches made before there was a choice keep their names.
            **({"find_line": True} if self.find_line else {}),
        }

    def prepare_crop(self, crop: np.ndarray) -> tuple[np.ndarray, int]:
        """A line's crop of its page (dark ink on light paper) as a line image, as `preprocessing` says and a
        predictor does it; and the width it had before any squeezing."""
        if self.find_line:
            crop = find_line(crop, self.margin)[0]
        return prepare_line(crop, self.image_height, self.max_width)

    def too_faint(self, image: np.ndarray, text: str) -> bool:
        """Whether a line image holds too little ink for its text (a line missing from its page image)."""
        return bool(image.sum() / 255 < MIN_INK_PER_CHARACTER * max(len(text), 1) * self.image_height**2)

    def write_split(self, f: h5py.File, split: str, ids: list[str], texts: list[str], images: list[np.ndarray]) -> None:
        """One split's lines into the cache file `f`: `x_<split>`, `y_<split>`, `texts_<split>`, `ids_<split>`."""
        x = np.zeros((len(images), *self.input_shape), dtype=np.uint8)
        y = np.full((len(texts), self.max_length), self.padding_label, dtype=np.int32)
        for i, (text, image) in enumerate(zip(texts, images, strict=True)):
            x[i], y[i, : len(text)] = image, [self.inverse_mapping[char] for char in text]
        # Chunks of one line each: cheap to compress, and h5py accepts no chunking of an empty split.
        chunking = {"compression": "lzf", "chunks": (1, *self.input_shape)} if len(x) else {}
        f.create_dataset(f"x_{split}", data=x, **chunking)
        f.create_dataset(f"y_{split}", data=y)
        f.create_dataset(f"texts_{split}", data=texts, dtype=h5py.string_dtype())
        f.create_dataset(f"ids_{split}", data=ids, dtype=h5py.string_dtype())

    def read_texts(self, arrays: Any, attrs: Any, splits: tuple[str, ...]) -> None:
        """The texts, ids and statistics of a loaded cache (`Dataset.load_cache`'s result)."""
        self.texts = {split: list(arrays[f"texts_{split}"]) for split in splits}
        self.line_ids = {split: list(arrays[f"ids_{split}"]) for split in splits}
        self.stats = json.loads(attrs["stats"])
