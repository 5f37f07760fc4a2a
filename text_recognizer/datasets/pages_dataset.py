"""Handwritten pages from any importable source as IAM paragraphs are made: the union of a page's line boxes grown by
`margin`, prepared by `prepare_paragraph` into a square, with a label map of its lines (`line_label_map`), for
training and evaluating the line detector on one's own pages.

    >>> from text_recognizer.datasets import PagesDataset, FsdlHandwritingParagraphsDataset
    >>> dataset = PagesDataset("my_transkribus_export", image_size=256)
    >>> dataset.load_or_generate_data()
    >>> dataset.x_train.shape, dataset.y_train.max()      # images and their maps: 0 background, 1 odd, 2 even lines
    ((10, 256, 256), 2)

Every line of a page counts, also those without text (a line to find is a line, read or not).
"""

import json
import time
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from text_recognizer.datasets.fsdl_handwriting_dataset import FsdlHandwritingDataset
from text_recognizer.datasets.iam_paragraphs_dataset import Paragraph, paragraph_example, paragraph_region
from text_recognizer.datasets.imported_dataset import FsdlExport, ImportedDataset
from text_recognizer.datasets.importers import ImportedPage
from text_recognizer.datasets.source_pages import SPLITS, read_page

# Bump when the way pages or label maps are made changes, so that no stale cache is reused.
PROCESSING_VERSION = 1


class PagesDataset(ImportedDataset):
    """Pages of an imported source as `image_size` square paragraphs and line label maps (IAM paragraphs' format);
    the split arguments are `ImportedDataset`'s."""

    def __init__(
        self,
        source: str | None = None,
        splits: dict[str, list[str]] | None = None,
        validation_fraction: float = 0.1,
        test_fraction: float = 0.1,
        seed: int = 0,
        image_size: int = 256,
        margin: int = 32,
        augment: bool = True,
    ):
        super().__init__(source, splits, validation_fraction, test_fraction, seed)
        self.image_size, self.margin, self.augment = image_size, margin, augment
        self.input_shape: tuple[int, ...] = (image_size, image_size)
        self.mapping = ["background", "odd line", "even line"]
        self.num_classes = len(self.mapping)
        self.preprocessing = {"method": "paragraph", "size": image_size}
        self.x_train = self.y_train = self.x_val = self.y_val = self.x_test = self.y_test = np.empty(0)
        self.page_ids: dict[str, list[str]] = {}
        self.stats: dict[str, Any] = {}
        self._rng = np.random.default_rng(0)

    def augment_batch(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """A training batch with each page and its label map distorted alike (if `augment`), as IAM's are."""
        from text_recognizer.datasets.paragraph_augmentation import augment_paragraph_batch  # loads Keras

        return augment_paragraph_batch(x, y, self._rng, self.num_classes) if self.augment else (x, y)

    def load_or_generate_data(self) -> None:
        pages, images, splits = self.import_pages()
        params = {"version": PROCESSING_VERSION, "source_sha256": self.source_sha256, **self.split_params(),
                  "image_size": self.image_size, "margin": self.margin}  # fmt: skip
        path = self.cache_filename("imported_pages", params)
        arrays, attrs = self.load_cache(path, lambda partial: self._build(partial, pages, images, splits))
        self.page_ids = {split: list(arrays[f"ids_{split}"]) for split in SPLITS}
        self.stats = json.loads(attrs["stats"])

    def _build(self, path: Path, pages: list[ImportedPage], images: dict[str, Path], splits: dict[str, str]) -> None:
        start = time.perf_counter()
        rows: dict[str, list[tuple[str, np.ndarray, np.ndarray]]] = {split: [] for split in SPLITS}
        for page in pages:
            image = read_page(page, images[page.id])
            height, width = image.shape[:2]
            boxes = [line.pixel_box(width, height, page.relative) for line in page.lines]
            x0, y0, w, h = paragraph_region(boxes, (height, width), self.margin)
            relative = [(x - x0, y - y0, bw, bh) for x, y, bw, bh in boxes]
            paragraph = Paragraph(page.id, splits[page.id], image[y0 : y0 + h, x0 : x0 + w], [], relative, 0)
            rows[splits[page.id]].append((page.id, *paragraph_example(paragraph, self.image_size)))
        stats: dict[str, Any] = {}
        with h5py.File(path, "w") as f:
            for split, split_rows in rows.items():
                shape = (len(split_rows), self.image_size, self.image_size)
                x = np.stack([row[1] for row in split_rows]) if split_rows else np.zeros(shape, np.uint8)
                y = np.stack([row[2] for row in split_rows]) if split_rows else np.zeros(shape, np.uint8)
                f.create_dataset(f"x_{split}", data=x, compression="lzf" if split_rows else None)
                f.create_dataset(f"y_{split}", data=y, compression="lzf" if split_rows else None)
                f.create_dataset(f"ids_{split}", data=[row[0] for row in split_rows], dtype=h5py.string_dtype())
                stats[split] = {"pages": len(split_rows)}
            stats["build_seconds"] = round(time.perf_counter() - start, 1)
            f.attrs["stats"] = json.dumps(stats)

    def __repr__(self) -> str:
        return (
            f"Pages of {self.source_location()}: input {self.input_shape}, train {self.x_train.shape}, "
            f"validation {self.x_val.shape}, test {self.x_test.shape}"
        )


class FsdlHandwritingParagraphsDataset(FsdlExport, PagesDataset):
    """The FSDL class's handwritten pages (`FsdlHandwritingDataset`'s export) as IAM paragraphs; `source` may name
    another export in the same format."""

    raw_name = FsdlHandwritingDataset.raw_name
