"""How the shipped IAM line artifact reads the test lines when they are cut and sent otherwise than IAM cut them.

    TEXT_RECOGNIZER_DATA_MIRROR=../shared/data/raw python evaluation/evaluate_line_robustness.py [--decoder '{}']

Each test line is cut from its form page with the data set's margin ("as cut"), then changed as people's lines are:
cut loosely (60 px of paper on every side), at half resolution, saved as JPEG of quality 40, on grey uneven paper,
rotated by 3 degrees (the canvas grown, paper filling the corners). Each variant goes through the predictor as a user's
image would. Printed: the CER of each variant, and its difference from "as cut"; the last line is `cer: <as cut>`.
As a validation test (`pytest evaluation/`) it fails if any variant of the first 200 test lines reads more than 1
point of CER worse than as cut.
"""

import argparse
import io
import json
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import cv2
import numpy as np
from PIL import Image
from tqdm import tqdm

from text_recognizer.datasets import IamDataset, IamLinesDataset
from text_recognizer.datasets.iam_lines_dataset import crop_line
from text_recognizer.metrics import character_error_rate
from text_recognizer.predictors import LinePredictor

PAPER = 255
# The most a variant may read worse than the lines as cut (absolute CER) before the validation test fails.
MAX_CER_INCREASE = 0.01


def _loose(line: np.ndarray, page: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    return crop_line(page, box, 60)


def _half(line: np.ndarray, *_: Any) -> np.ndarray:
    return cv2.resize(line, (max(1, line.shape[1] // 2), max(1, line.shape[0] // 2)), interpolation=cv2.INTER_AREA)


def _jpeg(line: np.ndarray, *_: Any) -> np.ndarray:
    buffer = io.BytesIO()
    Image.fromarray(line).save(buffer, format="JPEG", quality=40)
    return np.asarray(Image.open(buffer).convert("L"))


def _grey_uneven(line: np.ndarray, *_: Any) -> np.ndarray:
    # Paper from 150 on the left to 210 on the right, the ink as dark as before relative to it.
    light = np.linspace(150, 210, line.shape[1])[None, :]
    return (line.astype(np.float64) / PAPER * light).astype(np.uint8)


def _rotated(line: np.ndarray, *_: Any) -> np.ndarray:
    height, width = line.shape
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), 3, 1.0)
    cos, sin = abs(matrix[0, 0]), abs(matrix[0, 1])
    new_width, new_height = int(height * sin + width * cos), int(height * cos + width * sin)
    matrix[0, 2] += new_width / 2 - width / 2
    matrix[1, 2] += new_height / 2 - height / 2
    return cv2.warpAffine(line, matrix, (new_width, new_height), borderValue=PAPER)


VARIANTS: dict[str, Callable[..., np.ndarray]] = {
    "as cut": lambda line, *_: line,
    "loosely cropped (60 px)": _loose,
    "half resolution": _half,
    "JPEG quality 40": _jpeg,
    "grey uneven paper": _grey_uneven,
    "rotated 3 degrees": _rotated,
}


def evaluate(num_lines: int, decoder: dict[str, Any] | None = None) -> dict[str, float]:
    """CER of each variant over the first `num_lines` test lines."""
    predictor = LinePredictor("iam_lines", decoder=decoder)
    lines = IamLinesDataset(**(predictor.artifact.spec["provenance"]["config"].get("dataset_args") or {}))
    lines.load_or_generate_data()
    iam = IamDataset()
    iam.load_or_generate_data()
    by_id = {line.line_id: line for line in iam.lines}
    wanted = lines.line_ids["test"][:num_lines]
    by_form: dict[str, list[int]] = defaultdict(list)
    for index, line_id in enumerate(wanted):
        by_form[by_id[line_id].form_id].append(index)
    predictions: dict[str, list[str]] = {name: [""] * len(wanted) for name in VARIANTS}
    forms = iam.form_images(sorted(by_form))
    for form_id, page in tqdm(forms, total=len(by_form), desc="IAM test forms"):
        for index in by_form[form_id]:
            box = by_id[wanted[index]].box
            line = crop_line(page, box, lines.margin)
            for name, variant in VARIANTS.items():
                predictions[name][index] = predictor.predict(variant(line, page, box)).text
    targets = lines.texts["test"][:num_lines]
    return {name: character_error_rate(texts, targets) for name, texts in predictions.items()}


def test_line_predictor_reads_lines_cut_otherwise_about_as_well() -> None:
    """Every variant within 1 point of CER of the lines as IAM cut them (the first 200 test lines)."""
    cers = evaluate(200)
    assert all(cer - cers["as cut"] <= MAX_CER_INCREASE for cer in cers.values()), cers


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--num-lines", type=int, default=1000, help="test lines to read (at most the split's)")
    parser.add_argument("--decoder", type=json.loads, help="decode otherwise than the artifact: '{}' is greedy")
    args = parser.parse_args()
    cers = evaluate(args.num_lines, args.decoder)
    for name, cer in cers.items():
        print(f"{name}: {cer:.4f} ({cer - cers['as cut']:+.4f})")
    print(f"cer: {cers['as cut']:.4f}")
