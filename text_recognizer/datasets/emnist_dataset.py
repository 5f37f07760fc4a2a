"""EMNIST ByClass handwritten characters (0-9, A-Z, a-z) as upright 28x28 uint8 images, white ink on black.

python -m text_recognizer.datasets.emnist_dataset   # downloads (or uses the mirror), caches, prints a summary
"""

import io
import json
import zipfile
from pathlib import Path

import h5py
import numpy as np
from scipy.io import loadmat

from text_recognizer.datasets.dataset import DataError, Dataset

ESSENTIALS_FILENAME = Path(__file__).parent / "emnist_essentials.json"
MAT_MEMBER = "matlab/emnist-byclass.mat"
# Symbols the line data sets need beyond EMNIST's 62 classes; "_" pads fixed-length targets (and is CTC's blank).
EXTRA_SYMBOLS = [" ", "!", '"', "#", "&", "'", "(", ")", "*", "+", ",", "-", ".", "/", ":", ";", "?", "_"]
PADDING_TOKEN = "_"


class EmnistDataset(Dataset):
    """EMNIST ByClass with the extra symbols of the line data sets appended to its mapping.

    Args:
        subsample_fraction: keep this random fraction of the training split (for quick experiments).
        sample_to_balance: resample the training split so that every class appears equally often.
    """

    raw_name = "emnist"

    def __init__(self, subsample_fraction: float | None = None, sample_to_balance: bool = False):
        if subsample_fraction is not None and not (
            isinstance(subsample_fraction, int | float) and 0 < subsample_fraction <= 1
        ):
            raise ValueError(f"subsample_fraction must be in (0, 1], got {subsample_fraction!r}")
        essentials = json.loads(ESSENTIALS_FILENAME.read_text())
        self.mapping: list[str] = essentials["mapping"]
        self.inverse_mapping = {char: label for label, char in enumerate(self.mapping)}
        self.num_classes = len(self.mapping)
        self.input_shape: tuple[int, ...] = tuple(essentials["input_shape"])
        self.preprocessing = {"method": "character", "size": self.input_shape[0]}
        self.subsample_fraction = subsample_fraction
        self.sample_to_balance = sample_to_balance
        self.x_train = self.y_train = self.x_test = self.y_test = np.empty(0)

    def processed_filename(self) -> Path:
        return self.data_dirname() / "processed" / "emnist" / f"byclass_{self.raw_sha256()[:16]}.h5"

    def load_or_generate_data(self) -> None:
        self.load_cache(self.processed_filename(), lambda partial: _process_raw(self.raw_file(), partial, self.mapping))
        rng = np.random.default_rng(42)
        if self.sample_to_balance:
            self.x_train, self.y_train = _balance(self.x_train, self.y_train, rng)
        if self.subsample_fraction is not None:
            keep = rng.permutation(len(self.y_train))[: int(len(self.y_train) * self.subsample_fraction)]
            self.x_train, self.y_train = self.x_train[keep], self.y_train[keep]

    def __repr__(self) -> str:
        return (
            f"EMNIST ByClass: {self.num_classes} classes, input {self.input_shape}, "
            f"train {self.x_train.shape} {self.x_train.dtype}, test {self.x_test.shape} {self.x_test.dtype}"
        )


def _process_raw(zip_path: Path, out_path: Path, mapping: list[str]) -> None:
    """Decode the .mat inside `zip_path` to an HDF5 cache at `out_path` (a temporary file: see `load_cache`)."""
    with zipfile.ZipFile(zip_path) as archive:
        data = loadmat(io.BytesIO(archive.read(MAT_MEMBER)), simplify_cells=True)["dataset"]
    mat_mapping = [chr(int(code)) for _, code in sorted(data["mapping"].tolist())]
    if mat_mapping != mapping[: len(mat_mapping)]:
        raise DataError(f"{zip_path}: its class mapping {mat_mapping} differs from {ESSENTIALS_FILENAME.name}")
    with h5py.File(out_path, "w") as f:
        for split in ("train", "test"):
            # Rows hold 784 pixels in column-major order: reshape then transpose to get upright images.
            images = data[split]["images"].reshape(-1, 28, 28).transpose(0, 2, 1)
            f.create_dataset(f"x_{split}", data=images.astype(np.uint8), compression="lzf")
            f.create_dataset(f"y_{split}", data=data[split]["labels"].reshape(-1).astype(np.int32))


def _balance(x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Draw the mean class count from every class (with replacement where a class is smaller)."""
    per_class = int(np.bincount(y).mean())
    indices = np.concatenate(
        [rng.choice(np.flatnonzero(y == label), per_class, replace=True) for label in np.unique(y)]
    )
    rng.shuffle(indices)
    return x[indices], y[indices]


if __name__ == "__main__":
    dataset = EmnistDataset()
    dataset.load_or_generate_data()
    print(dataset)
