"""Several line data sets in one experiment, each weighted: IAM's lines and one's own, say.

    >>> from text_recognizer.datasets import MixedLinesDataset
    >>> dataset = MixedLinesDataset([
    ...     {"dataset": "IamLinesDataset", "weight": 1},
    ...     {"dataset": "LinesDataset", "args": {"source": "my_export"}, "weight": 1},
    ... ])
    >>> dataset.load_or_generate_data()
    >>> [source["sha256"][:8] for source in dataset.sources()]
    ['e5aaaa11', '3f1c09d2']

Every epoch's training lines are as many as all sources' together, each source's share its weight's share (a small
source is repeated, a large one subsampled, with the seed); validation and test splits are all sources' lines. An
experiment config may give such a list as its `dataset` (see training/run_experiment.py).
"""

import hashlib
from typing import Any

import numpy as np

from text_recognizer.datasets.dataset import Dataset

SOURCE_KEYS = {"dataset", "args", "weight"}


def check_sources(sources: Any) -> None:
    """Raise a one-line ValueError naming the first source entry that is malformed."""
    if not isinstance(sources, list) or not sources:
        raise ValueError("dataset sources must be a non-empty list of {dataset, args, weight} objects")
    for i, entry in enumerate(sources):
        if not isinstance(entry, dict):
            raise ValueError(f"dataset[{i}] must be an object with dataset, args and weight, got {entry!r}")
        unknown = sorted(set(entry) - SOURCE_KEYS)
        if unknown:
            raise ValueError(f"dataset[{i}]: unknown keys {unknown}; known: {sorted(SOURCE_KEYS)}")
        if not isinstance(entry.get("dataset"), str) or not entry["dataset"]:
            raise ValueError(f"dataset[{i}].dataset must be a data set class name, got {entry.get('dataset')!r}")
        if not isinstance(entry.get("args", {}), dict):
            raise ValueError(f"dataset[{i}].args must be an object, got {entry['args']!r}")
        weight = entry.get("weight", 1)
        if isinstance(weight, bool) or not isinstance(weight, int | float) or not 0 < weight < float("inf"):
            raise ValueError(f"dataset[{i}].weight must be a positive number, got {weight!r}")


class MixedLinesDataset(Dataset):
    """Line data sets (class names of `text_recognizer.datasets` with their args) mixed by weight; all must share
    the mapping, input shape and preprocessing (IAM's, for `LinesDataset`s at their defaults)."""

    def __init__(self, sources: list[dict[str, Any]], seed: int = 0):
        from text_recognizer import datasets  # here: that package imports this module

        check_sources(sources)
        self.entries = [{"dataset": e["dataset"], "args": e.get("args", {}), "weight": e.get("weight", 1)}
                        for e in sources]  # fmt: skip
        self.members: list[Any] = []
        for i, entry in enumerate(self.entries):
            cls = getattr(datasets, entry["dataset"], None)
            if not (isinstance(cls, type) and issubclass(cls, Dataset)):
                raise ValueError(f"dataset[{i}]: unknown data set {entry['dataset']!r}")
            try:
                self.members.append(cls(**entry["args"]))
            except TypeError as e:
                raise ValueError(f"dataset[{i}] ({entry['dataset']}): {e}") from e
        first = self.members[0]
        for i, member in enumerate(self.members[1:], start=1):
            for attribute in ("mapping", "input_shape", "preprocessing", "padding_label"):
                if getattr(member, attribute, None) != getattr(first, attribute, None):
                    names = (self.entries[i]["dataset"], self.entries[0]["dataset"])
                    raise ValueError(
                        f"dataset[{i}] ({names[0]}) has another {attribute} than dataset[0] ({names[1]}): they cannot "
                        "train one model"
                    )
        self.mapping, self.input_shape, self.preprocessing = first.mapping, first.input_shape, first.preprocessing
        self.num_classes, self.padding_label = first.num_classes, first.padding_label
        self.output_length = getattr(first, "output_length", None)
        self.seed = seed
        self.train_counts: list[int] = []
        self.x_train = self.y_train = self.x_val = self.y_val = self.x_test = self.y_test = np.empty(0)

    def augment_batch(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Augmented as the first source augments (the same for every line data set)."""
        augment = getattr(self.members[0], "augment_batch", None)
        return augment(x, y) if augment else (x, y)

    def seed_augmentation(self, seed: int) -> None:
        for member in self.members:
            member.seed_augmentation(seed)

    def load_or_generate_data(self) -> None:
        for member in self.members:
            member.load_or_generate_data()
        rng = np.random.default_rng(self.seed)
        total = sum(len(member.x_train) for member in self.members)
        weights = np.array([float(entry["weight"]) for entry in self.entries])
        picks = []
        for member, weight in zip(self.members, weights / weights.sum(), strict=True):
            count, available = round(total * weight), len(member.x_train)
            picks.append(rng.choice(available, count, replace=count > available) if available else np.empty(0, int))
        self.x_train = np.concatenate([m.x_train[np.sort(p)] for m, p in zip(self.members, picks, strict=True)])
        self.y_train = np.concatenate([m.y_train[np.sort(p)] for m, p in zip(self.members, picks, strict=True)])
        for name in ("x_val", "y_val", "x_test", "y_test"):
            setattr(self, name, np.concatenate([getattr(member, name) for member in self.members]))
        self.train_counts = [len(p) for p in picks]

    def raw_sha256(self) -> str:  # type: ignore[override]  # of the sources' hashes, known once loaded
        return hashlib.sha256("\0".join(source["sha256"] for source in self.sources()).encode()).hexdigest()

    def sources(self) -> list[dict[str, Any]]:
        """Every source, its weight, its hash and the training lines it gives an epoch."""
        records = []
        for i, (entry, member) in enumerate(zip(self.entries, self.members, strict=True)):
            sha256 = member.raw_sha256()
            location = member.sources()[0].get("source") if hasattr(member, "sources") else None
            train_lines = self.train_counts[i] if self.train_counts else None
            records.append({**entry, "source": location, "sha256": sha256, "train_lines": train_lines})
        return records

    def __repr__(self) -> str:
        names = ", ".join(f"{e['dataset']} x{e['weight']}" for e in self.entries)
        shapes = f"train {self.x_train.shape}, validation {self.x_val.shape}, test {self.x_test.shape}"
        return f"Mixed lines ({names}): {shapes}"
