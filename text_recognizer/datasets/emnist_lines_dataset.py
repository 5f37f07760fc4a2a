"""EMNIST Lines: synthetic handwritten lines, EMNIST character images spelling Brown-corpus snippets side by side.

    TEXT_RECOGNIZER_DATA_MIRROR=/work/shared/data/raw NLTK_DATA=/work/shared/data/nltk_data \
        python -m text_recognizer.datasets.emnist_lines_dataset   # builds (or loads) the cache, prints a summary

Each line overlaps its characters by one random fraction of their width; test lines use only images from EMNIST's
test split. Targets are label sequences padded to `max_length` with the `_` token (also the CTC blank).
"""

from pathlib import Path

import h5py
import numpy as np

from text_recognizer.datasets.dataset import DataError, Dataset
from text_recognizer.datasets.emnist_dataset import EXTRA_SYMBOLS, PADDING_TOKEN, EmnistDataset
from text_recognizer.datasets.sentence_generator import SentenceGenerator, corpus_sha256

# Bump when the way lines are drawn changes, so that no stale cache is reused.
GENERATOR_VERSION = 1


class EmnistLinesDataset(Dataset):
    """Lines of up to `max_length` EMNIST characters, 28 px high and `max_length * 28` px wide, white ink on black.

    Args:
        max_length: most characters a line holds; also the length of the padded targets.
        min_overlap, max_overlap: range of the fraction of a character's width its successor overlaps it by.
        num_train, num_test: lines in each split.
        seed: the lines drawn; each split has its own random stream, so the test split does not depend on `num_train`.
    """

    raw_name = EmnistDataset.raw_name

    def __init__(
        self,
        max_length: int = 34,
        min_overlap: float = 0.0,
        max_overlap: float = 0.33,
        num_train: int = 10000,
        num_test: int = 1000,
        seed: int = 0,
    ):
        if not 0 <= min_overlap <= max_overlap < 1:
            raise ValueError(f"Need 0 <= min_overlap <= max_overlap < 1, got {min_overlap} and {max_overlap}")
        emnist = EmnistDataset()  # for its mapping and shapes only: no data is loaded
        self.mapping = emnist.mapping
        self.inverse_mapping = emnist.inverse_mapping
        self.num_classes = emnist.num_classes
        self.padding_label = self.inverse_mapping[PADDING_TOKEN]
        self.char_shape: tuple[int, int] = emnist.input_shape  # type: ignore[assignment]
        self.input_shape: tuple[int, ...] = (self.char_shape[0], self.char_shape[1] * max_length)
        height, width = self.input_shape
        self.preprocessing = {"method": "fixed_height_line", "height": height, "min_width": width, "max_width": width}
        self.output_length = max_length
        self.max_length, self.min_overlap, self.max_overlap = max_length, min_overlap, max_overlap
        self.num_train, self.num_test, self.seed = num_train, num_test, seed
        empty: np.ndarray = np.empty(0)  # of any dtype: filled by load_or_generate_data
        self.x_train = self.y_train = self.x_test = self.y_test = empty

    def alphabet(self) -> set[str]:
        """The characters lines can hold: those EMNIST has images of, and the space (corpus punctuation is dropped)."""
        return (set(self.mapping) - set(EXTRA_SYMBOLS)) | {" "}

    def processed_filename(self) -> Path:
        params = {
            "version": GENERATOR_VERSION,
            "max_length": self.max_length,
            "min_overlap": self.min_overlap,
            "max_overlap": self.max_overlap,
            "num_train": self.num_train,
            "num_test": self.num_test,
            "seed": self.seed,
            "emnist_sha256": self.raw_sha256(),
            "corpus_sha256": corpus_sha256(),
            "alphabet": "".join(sorted(self.alphabet())),
        }
        return self.cache_filename("emnist_lines", params)

    def load_or_generate_data(self) -> None:
        self.load_cache(self.processed_filename(), self._build)

    def _build(self, path: Path) -> None:
        """Draw the lines of both splits and write them to an HDF5 cache at `path` (a temporary file)."""
        # Reading and cleaning the corpus takes seconds: only a cache being built needs it.
        generator = SentenceGenerator(self.max_length, self.alphabet())
        emnist = EmnistDataset()
        emnist.load_or_generate_data()
        splits = {
            "train": (emnist.x_train, emnist.y_train, self.num_train),
            "test": (emnist.x_test, emnist.y_test, self.num_test),
        }
        with h5py.File(path, "w") as f:
            for index, (split, (images, labels, count)) in enumerate(splits.items()):
                rng = np.random.default_rng([self.seed, index])
                x, y = self._draw_lines(count, images, labels, generator, rng)
                f.create_dataset(f"x_{split}", data=x, compression="lzf")
                f.create_dataset(f"y_{split}", data=y)

    def _draw_lines(
        self,
        count: int,
        images: np.ndarray,
        labels: np.ndarray,
        generator: SentenceGenerator,
        rng: np.random.Generator,
    ) -> tuple[np.ndarray, np.ndarray]:
        samples_by_label = {label: np.flatnonzero(labels == label) for label in np.unique(labels)}
        char_height, char_width = self.char_shape
        x = np.zeros((count, *self.input_shape), dtype=np.uint8)
        y = np.full((count, self.max_length), self.padding_label, dtype=np.int32)
        for i in range(count):
            text = generator.generate(rng)
            y[i, : len(text)] = [self.inverse_mapping[char] for char in text]
            step = char_width - int(rng.uniform(self.min_overlap, self.max_overlap) * char_width)
            for position, char in enumerate(text):
                if char == " ":
                    continue
                samples = samples_by_label.get(self.inverse_mapping[char])
                if samples is None:
                    raise DataError(f"EMNIST has no image of {char!r} in this split")
                left = position * step
                cell = x[i, :, left : left + char_width]
                np.maximum(cell, images[samples[rng.integers(len(samples))]], out=cell)  # ink overlaps, not sums
        return x, y

    def __repr__(self) -> str:
        return (
            f"EMNIST Lines: max_length {self.max_length}, overlap {self.min_overlap}..{self.max_overlap}, "
            f"{self.num_classes} classes, input {self.input_shape}, "
            f"train {self.x_train.shape} {self.x_train.dtype}, test {self.x_test.shape} {self.x_test.dtype}"
        )


if __name__ == "__main__":
    dataset = EmnistLinesDataset()
    dataset.load_or_generate_data()
    print(dataset)
