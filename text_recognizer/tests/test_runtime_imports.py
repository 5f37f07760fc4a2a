"""Prediction needs only the runtime: the CLI and the API, run in a fresh interpreter, never import the training
stack (TensorFlow, Keras, SciPy, W&B, data sets, models, networks)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

SUPPORT_DIRNAME = Path(__file__).parent / "support"
# Top-level packages, and this project's training-only packages, that prediction must not load.
FORBIDDEN = ("tensorflow", "keras", "scipy", "wandb", "h5py", "tf2onnx", "nltk", "redis",
             "text_recognizer.datasets", "text_recognizer.models", "text_recognizer.networks", "training")  # fmt: skip
REPORT = f"""
import json, sys
loaded = [m for m in sys.modules if any(m == f or m.startswith(f + ".") for f in {FORBIDDEN!r})]
print(json.dumps(sorted(loaded)))
"""


def _loaded_after(code: str) -> list[str]:
    result = subprocess.run([sys.executable, "-c", code + REPORT], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    ("mode", "image"),
    [
        ("character", "emnist/upper_A.png"),
        ("line", "iam_lines/a01-014-00.png"),
        ("paragraph", "iam_paragraphs/a01-014.png"),
    ],
)
def test_cli_predicts_without_the_training_stack(mode: str, image: str) -> None:
    argv = ["predict", "--mode", mode, str(SUPPORT_DIRNAME / image)]
    code = f"from text_recognizer import cli\nassert cli.main({argv!r}) == 0"
    assert _loaded_after(code) == []


def test_api_serves_without_the_training_stack() -> None:
    code = "from api.app import create_app\nassert create_app().test_client().get('/').status_code == 200"
    assert _loaded_after(code) == []
