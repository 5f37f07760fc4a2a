"""Shipped models as self-contained artifacts: `artifacts/<name>/model.onnx` and one `artifact.json`.

The JSON holds everything prediction needs and nothing else: the classes (index -> character, the blank), the input
spec, the preprocessing (`text_recognizer.preprocessing`), the decoder and the files it uses (beside the model), the
metrics the model reached and its provenance (config, training command, source weights' hash, export command).
`training/export_models.py` writes them from the training weights; nothing here needs TensorFlow or a data set.

    >>> from text_recognizer.artifacts import load_artifact
    >>> artifact = load_artifact("CharacterModel_EmnistDataset_lenet")
    >>> artifact.spec["classes"][:3], artifact.spec["input"]
    (['0', '1', '2'], {'height': 28, 'width': 28, 'dtype': 'uint8', 'ink': 'white_on_black'})
    >>> artifact.run(batch).shape   # batch: uint8 (N, 28, 28) -> softmax (N, 80)
"""

import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from text_recognizer.preprocessing import check_spec
from text_recognizer.util import sha256_of

ARTIFACTS_DIRNAME = Path(__file__).resolve().parent / "artifacts"
MODEL_FILENAME = "model.onnx"
SPEC_FILENAME = "artifact.json"
FORMAT_VERSION = 1
# What every artifact.json holds (see the module docstring).
REQUIRED_KEYS = ("format_version", "name", "kind", "classes", "blank", "input", "preprocessing", "decoder",
                 "metrics", "provenance", "files")  # fmt: skip
KINDS = ("character", "line", "line_detector")
# Threads ONNX Runtime gives one call; one per call suits servers that run a worker per core, as ours do.
THREADS_ENV_VAR = "TEXT_RECOGNIZER_ONNX_THREADS"


class ArtifactError(ValueError):
    """An artifact is missing, incomplete or not what its JSON says."""


def artifact_dir(name: str) -> Path:
    """Where the shipped artifact `name` lives."""
    return ARTIFACTS_DIRNAME / name


def shipped_artifacts() -> list[str]:
    """Names of the artifacts shipped with the package."""
    return sorted(path.parent.name for path in ARTIFACTS_DIRNAME.glob(f"*/{SPEC_FILENAME}"))


@dataclass
class Artifact:
    """A loaded artifact: its folder and JSON; the ONNX Runtime session starts on the first `run`."""

    directory: Path
    spec: dict[str, Any]
    _session: Any = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def name(self) -> str:
        return str(self.spec["name"])

    def file(self, name: str) -> Path:
        """A file the artifact carries (listed in its `files`)."""
        if name not in self.spec["files"]:
            raise ArtifactError(f"Artifact {self.name} carries no file {name!r}")
        return self.directory / name

    def session(self) -> Any:
        """The ONNX Runtime session of `model.onnx`, on a GPU where ONNX Runtime has one, else on the CPU."""
        with self._lock:
            if self._session is None:
                import onnxruntime  # here, so that reading a spec needs no runtime

                options = onnxruntime.SessionOptions()
                options.intra_op_num_threads = int(os.environ.get(THREADS_ENV_VAR, "1"))
                options.inter_op_num_threads = 1
                preferred = ["CUDAExecutionProvider", "CPUExecutionProvider"]
                providers = [p for p in preferred if p in onnxruntime.get_available_providers()]
                self._session = onnxruntime.InferenceSession(
                    str(self.file(MODEL_FILENAME)), options, providers=providers
                )
            return self._session

    def run(self, batch: np.ndarray) -> np.ndarray:
        """The network's output for a batch already in its input format (uint8, `input` spec)."""
        session = self.session()
        return session.run(None, {session.get_inputs()[0].name: batch})[0]


def load_artifact(name: str, directory: Path | None = None) -> Artifact:
    """The artifact `name` (shipped, or in `directory`), its JSON checked and its files verified by SHA-256."""
    folder = Path(directory) if directory is not None else artifact_dir(name)
    spec_path = folder / SPEC_FILENAME
    if not spec_path.is_file():
        available = ", ".join(shipped_artifacts()) or "none"
        raise FileNotFoundError(f"No artifact {name!r}: {spec_path} is missing (shipped: {available})")
    try:
        spec = json.loads(spec_path.read_text())
    except json.JSONDecodeError as e:
        raise ArtifactError(f"{spec_path} is not valid JSON: {e}") from e
    missing = [key for key in REQUIRED_KEYS if key not in spec]
    if missing:
        raise ArtifactError(f"{spec_path} lacks {', '.join(missing)}")
    if spec["format_version"] != FORMAT_VERSION:
        raise ArtifactError(f"{spec_path} has format {spec['format_version']}; this runtime reads {FORMAT_VERSION}")
    if spec["kind"] not in KINDS:
        raise ArtifactError(f"{spec_path}: unknown kind {spec['kind']!r}; choose one of {', '.join(KINDS)}")
    try:
        check_spec(spec["preprocessing"])
    except ValueError as e:
        raise ArtifactError(f"{spec_path}: {e}") from e
    for filename, expected in spec["files"].items():
        path = folder / filename
        if not path.is_file():
            raise ArtifactError(f"Artifact {name} is incomplete: {path} is missing")
        if sha256_of(path) != expected:
            raise ArtifactError(f"Artifact {name}: {path} is not the file its {SPEC_FILENAME} describes (SHA-256)")
    if MODEL_FILENAME not in spec["files"]:
        raise ArtifactError(f"{spec_path} lists no {MODEL_FILENAME}")
    return Artifact(folder, spec)
