"""Turns shipped training weights (`text_recognizer/weights/<name>.weights.h5`) into the artifacts predictors load.

    python training/export_models.py                      # every shipped model
    python training/export_models.py CharacterModel_EmnistDataset_lenet
    python training/export_models.py my_handwriting         # weights saved with run_experiment.py --name my_handwriting

Each artifact is `text_recognizer/artifacts/<name>/`: `model.onnx` (Keras 3's ONNX export, through tf2onnx; no
optimizer state) and `artifact.json` (see `text_recognizer.artifacts`), plus the language model file its decoder
reads. Before anything is written, the ONNX model runs on the real support images of its kind (prepared by
`text_recognizer.preprocessing`, as a predictor will) and must match the Keras network within `TOLERANCE`, else the
export fails. An artifact is written in a temporary folder and then swapped in, so it is never half-written.
"""

import argparse
import json
import os
import shlex
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from text_recognizer.artifacts import ARTIFACTS_DIRNAME, FORMAT_VERSION, MODEL_FILENAME, SPEC_FILENAME, artifact_dir
from text_recognizer.preprocessing import as_page, prepare
from text_recognizer.util import read_image, sha256_of, write_json

# Largest absolute difference allowed between the ONNX and the Keras outputs on the support images.
TOLERANCE = 1e-4
SUPPORT_DIRNAME = Path(__file__).resolve().parents[1] / "text_recognizer" / "tests" / "support"
# The real images each kind of model is checked on.
SUPPORT_IMAGES = {
    "character": "emnist/*.png",
    "EmnistLinesDataset": "emnist_lines/*.png",
    "IamLinesDataset": "iam_lines/*.png",
    # Lines of one's own exports are made as IAM's are (see `LinesDataset`): IAM's lines check them.
    "LinesDataset": "iam_lines/*.png",
    "FsdlHandwritingLinesDataset": "iam_lines/*.png",
    "MixedLinesDataset": "iam_lines/*.png",
    "line_detector": "iam_paragraphs/*.png",
    "IamPagesDataset": "iam_pages/*.[jp][pn]g",  # whole pages: a scan and a binarized page
}
KIND_OF_MODEL = {"CharacterModel": "character", "LineModel": "line", "LineModelCtc": "line",
                 "LineDetectorModel": "line_detector"}  # fmt: skip
LANGUAGE_MODEL_FILENAME = "language_model.arpa.gz"


class ExportError(RuntimeError):
    """An export that would not predict as its weights do."""


def shipped_weights() -> list[str]:
    """Names of the shipped training weights."""
    from text_recognizer.models.base import WEIGHTS_DIRNAME

    return sorted(path.name.removesuffix(".weights.h5") for path in WEIGHTS_DIRNAME.glob("*.weights.h5"))


def support_batch(model: Any, kind: str, preprocessing: dict[str, Any]) -> np.ndarray:
    """The support images of the model's kind, prepared as a predictor prepares them, padded to one width."""
    # A data set's own images where it has them (each line data set, whole pages), else those of the model's kind.
    pattern = SUPPORT_IMAGES.get(type(model.data).__name__, None if kind == "line" else SUPPORT_IMAGES.get(kind))
    if pattern is None:
        raise ExportError(f"No support images to check a {kind} model on {type(model.data).__name__}")
    images = [prepare(as_page(read_image(path)), preprocessing) for path in sorted(SUPPORT_DIRNAME.glob(pattern))]
    width = max(image.shape[1] for image in images)
    return np.stack([np.pad(image, ((0, 0), (0, width - image.shape[1]))) for image in images])


def decoder_spec(config: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Path]]:
    """The decoder settings of an artifact made from an experiment `config`, and the files they need (name in the
    artifact -> where to take it from)."""
    if config["model"] != "LineModelCtc":
        return ({"type": "positions"} if KIND_OF_MODEL[config["model"]] == "line" else {"type": "none"}), {}
    args = config.get("model_args") or {}
    spec = {"type": "ctc", "beam_width": args.get("beam_width", 1)}
    if args.get("language_model") is None:
        return spec, {}
    from text_recognizer.language_model import arpa_file

    spec.update(
        language_model=LANGUAGE_MODEL_FILENAME,
        lm_weight=args.get("lm_weight", 0.0),
        length_bonus=args.get("length_bonus", 0.0),
    )
    return spec, {LANGUAGE_MODEL_FILENAME: arpa_file(args["language_model"])}


def export(name: str, command: str) -> Path:
    """Export the shipped weights `name` as an artifact; its path."""
    import keras

    from text_recognizer.models.base import WEIGHTS_DIRNAME, build_model

    start = time.perf_counter()
    info = json.loads((WEIGHTS_DIRNAME / f"{name}.json").read_text())
    # Built from the config beside the weights, the weights read by their own name: a fine-tuned model saved with
    # `run_experiment.py --name` is named otherwise than its model class and data set.
    model = build_model(info["config"])
    model.load_weights(WEIGHTS_DIRNAME / f"{name}.weights.h5")
    kind = KIND_OF_MODEL[type(model).__name__]
    contract = model.contract()
    network = model.network
    input_shape = tuple(network.inputs[0].shape[1:])
    decoder, extra_files = decoder_spec(info["config"])
    ARTIFACTS_DIRNAME.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=f".partial-{name}-", dir=ARTIFACTS_DIRNAME))
    try:
        onnx_path = folder / MODEL_FILENAME
        signature = [keras.InputSpec(shape=(None, *input_shape), dtype="uint8")]
        network.export(str(onnx_path), format="onnx", input_signature=signature, verbose=False)
        batch = support_batch(model, kind, contract["preprocessing"])
        difference = _max_difference(network, onnx_path, batch)
        if not difference <= TOLERANCE:
            raise ExportError(f"{name}: ONNX outputs differ from Keras by {difference:.2e} (> {TOLERANCE})")
        for filename, source in extra_files.items():
            shutil.copyfile(source, folder / filename)
        spec = {
            "format_version": FORMAT_VERSION,
            "name": name,
            "kind": kind,
            "classes": contract["classes"],
            "blank": contract["blank"],
            "input": {"height": input_shape[0], "width": input_shape[1], "dtype": "uint8", "ink": "white_on_black"},
            "preprocessing": contract["preprocessing"],
            "decoder": decoder,
            "metrics": {**info.get("metrics", {}), **_decoder_metrics(info)},
            "provenance": {
                "config": info["config"],
                "training_command": info.get("command"),
                "epochs_run": info.get("epochs_run"),
                "initialized_from": info.get("initialized_from"),
                "decoder_command": info.get("decoder", {}).get("command"),
                "weights": f"text_recognizer/weights/{name}.weights.h5",
                "weights_sha256": sha256_of(WEIGHTS_DIRNAME / f"{name}.weights.h5"),
                "dataset_sha256": info.get("dataset_sha256"),
                "dataset_sources": info.get("dataset_sources"),
                "export_command": command,
                "export_check": {"support_images": len(batch), "max_abs_difference": float(difference)},
                "versions": _versions(),
            },
            "files": {path.name: sha256_of(path) for path in sorted(folder.iterdir())},
        }
        write_json(folder / SPEC_FILENAME, spec)
        _swap_in(folder, artifact_dir(name))
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    sizes = ", ".join(f"{f} {(artifact_dir(name) / f).stat().st_size / 1e6:.1f} MB" for f in spec["files"])
    print(f"{name}: {sizes}; max |ONNX - Keras| {difference:.1e} on {len(batch)} support images; "
          f"{time.perf_counter() - start:.1f} s")  # fmt: skip
    return artifact_dir(name)


def _max_difference(network: Any, onnx_path: Path, batch: np.ndarray) -> float:
    import onnxruntime

    session = onnxruntime.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    exported = session.run(None, {session.get_inputs()[0].name: batch})[0]
    return float(np.abs(exported - np.asarray(network.predict_on_batch(batch))).max())


def _decoder_metrics(info: dict[str, Any]) -> dict[str, Any]:
    """Test metrics the tuned decoder reached, as tune_decoder recorded them."""
    decoder = info.get("decoder") or {}
    return {f"test_decoded_{key}": value for key, value in (decoder.get("test") or {}).items()}


def _versions() -> dict[str, str]:
    import keras
    import onnx
    import tensorflow
    import tf2onnx

    return {"keras": keras.__version__, "tensorflow": tensorflow.__version__, "tf2onnx": tf2onnx.__version__,
            "onnx": onnx.__version__}  # fmt: skip


def _swap_in(folder: Path, target: Path) -> None:
    """Replace `target` by `folder` (same file system): the old one renamed aside, the new one in, the old dropped."""
    os.chmod(folder, 0o755)
    old = None
    if target.exists():
        old = target.with_name(f".old-{target.name}-{os.getpid()}")
        os.replace(target, old)
    os.replace(folder, target)
    if old is not None:
        shutil.rmtree(old)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help="shipped weights to export (default: all)")
    args = parser.parse_args(argv)
    names = args.names or shipped_weights()
    unknown = sorted(set(names) - set(shipped_weights()))
    if unknown:
        print(f"error: no shipped weights {', '.join(unknown)}; choose from {', '.join(shipped_weights())}",
              file=sys.stderr)  # fmt: skip
        return 2
    command = shlex.join(["python", "training/export_models.py", *(argv if argv is not None else sys.argv[1:])])
    try:
        for name in names:
            export(name, command)
    except ExportError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
