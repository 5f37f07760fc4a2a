"""Handwritten lines from any importable source (PAGE XML, ALTO, a line folder, an FSDL export), made exactly as IAM
lines are made (crop with a margin, `as_page`, then `LineImages`: IAM's mapping, input shape and preprocessing), so
that the IAM line model reads them and can be fine-tuned on them.

    TEXT_RECOGNIZER_DATA_MIRROR=/work/shared/data/raw python -m text_recognizer.datasets.lines_dataset my_export/

    >>> from text_recognizer.datasets import LinesDataset, FsdlHandwritingLinesDataset
    >>> dataset = LinesDataset("my_transkribus_export", seed=0)
    >>> dataset.load_or_generate_data()     # imports, fetches images, crops; cached by the source's content hash
    >>> dataset.x_train.shape, dataset.texts["train"][0]
    ((230, 64, 1280), 'A MOVE to stop Mr. Gaitskell from')

Characters outside IAM's charset are mapped as IAM maps its own (curly quotes to straight, accents dropped), or
dropped; `stats` counts both, per character. Lines without text, too long, or without ink are left out and counted.
"""

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from text_recognizer.datasets.dataset import DataError
from text_recognizer.datasets.emnist_dataset import PADDING_TOKEN
from text_recognizer.datasets.fsdl_handwriting_dataset import FsdlHandwritingDataset
from text_recognizer.datasets.iam_lines_dataset import to_alphabet
from text_recognizer.datasets.imported_dataset import FsdlExport, ImportedDataset
from text_recognizer.datasets.importers import ImportedPage
from text_recognizer.datasets.line_images import LineImages
from text_recognizer.datasets.source_pages import SPLITS, line_crops, read_page

# Bump when the way lines are made changes, so that no stale cache is reused.
PROCESSING_VERSION = 1


class LinesDataset(LineImages, ImportedDataset):
    """Lines of an imported source, `image_height` x `max_width`, with label sequences of `max_length` (IAM's
    defaults); the split arguments are `ImportedDataset`'s, the others `LineImages`'."""

    def __init__(
        self,
        source: str | None = None,
        splits: dict[str, list[str]] | None = None,
        validation_fraction: float = 0.1,
        test_fraction: float = 0.1,
        seed: int = 0,
        image_height: int = 64,
        max_width: int = 1280,
        margin: int = 8,
        max_length: int = 100,
        augment: bool = True,
        find_line: bool = False,
    ):
        ImportedDataset.__init__(self, source, splits, validation_fraction, test_fraction, seed)
        LineImages.__init__(self, image_height, max_width, margin, max_length, augment, find_line)

    def load_or_generate_data(self) -> None:
        pages, images, splits = self.import_pages()
        params = {
            "version": PROCESSING_VERSION,
            "source_sha256": self.source_sha256,
            **self.split_params(),
            **self.line_params(),
        }
        path = self.cache_filename("imported_lines", params)
        self.read_texts(*self.load_cache(path, lambda partial: self._build(partial, pages, images, splits)), SPLITS)
        if self.stats["mapped_characters"] or self.stats["dropped_characters"]:
            print(f"{self.source_location()}: characters outside the model's charset: mapped "
                  f"{self.stats['mapped_characters']}, dropped {self.stats['dropped_characters']}")  # fmt: skip

    def _build(self, path: Path, pages: list[ImportedPage], images: dict[str, Path], splits: dict[str, str]) -> None:
        """Crop, prepare and label every line, then write the cache to `path` (a temporary file)."""
        start = time.perf_counter()
        alphabet = set(self.mapping) - {PADDING_TOKEN}
        rows: dict[str, list[tuple[str, str, np.ndarray]]] = {split: [] for split in SPLITS}
        mapped: Counter[str] = Counter()
        dropped: Counter[str] = Counter()
        left_out: Counter[str] = Counter()
        for page in pages:
            image = read_page(page, images[page.id])
            for number, (line, crop) in enumerate(line_crops(page, image, self.margin)):
                text, outside = to_alphabet(line.text, alphabet)
                for char in outside:
                    (mapped if to_alphabet(char, alphabet)[0] else dropped)[char] += 1
                if not text.strip():
                    left_out["without_text"] += 1
                    continue
                if len(text) > self.max_length:
                    left_out["too_long"] += 1
                    continue
                prepared, _ = self.prepare_crop(crop)
                if self.too_faint(prepared, text):
                    left_out["blank"] += 1
                    continue
                rows[splits[page.id]].append((f"{page.id}#{number}", text, prepared))
        stats: dict[str, Any] = {"mapped_characters": dict(mapped), "dropped_characters": dict(dropped),
                                 "left_out": dict(left_out), "pages": Counter(splits.values()),
                                 "skipped_on_import": self.imported.skipped if self.imported else 0}  # fmt: skip
        with h5py.File(path, "w") as f:
            for split, split_rows in rows.items():
                ids, texts = [row[0] for row in split_rows], [row[1] for row in split_rows]
                self.write_split(f, split, ids, texts, [row[2] for row in split_rows])
                stats[split] = {"lines": len(split_rows)}
            stats["build_seconds"] = round(time.perf_counter() - start, 1)
            f.attrs["stats"] = json.dumps(stats)

    def __repr__(self) -> str:
        return (
            f"Lines of {self.source_location()}: {self.num_classes} classes, input {self.input_shape}, "
            f"train {self.x_train.shape}, validation {self.x_val.shape}, test {self.x_test.shape}"
        )


class FsdlHandwritingLinesDataset(FsdlExport, LinesDataset):
    """The FSDL class's handwritten lines (`FsdlHandwritingDataset`'s export, its page images fetched from their URLs),
    as IAM lines; `source` may name another export in the same format."""

    raw_name = FsdlHandwritingDataset.raw_name


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", nargs="?", help="an export (default: the FSDL handwriting export)")
    args = parser.parse_args(argv)
    dataset = LinesDataset(args.source) if args.source else FsdlHandwritingLinesDataset()
    try:
        dataset.load_or_generate_data()
    except DataError as e:  # a file that does not import, an image that cannot be fetched: said in one line
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(dataset)
    print(json.dumps(dataset.stats, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
