"""Writes a few real IAM test-split lines to `support/iam_lines/<line id>.png`, their texts to `texts.json`.

    TEXT_RECOGNIZER_DATA_MIRROR=../shared/data/raw \
        python -m text_recognizer.tests.support.create_iam_lines_support_files

The lines are spread evenly over the test split, half from scanned (.jpg), half from binarized (.png) forms, and keep
their original appearance, dark ink on light paper, at half the page resolution to keep the files small.
"""

import json
from pathlib import Path

import cv2
import numpy as np

from text_recognizer.datasets import IamDataset
from text_recognizer.datasets.iam_lines_dataset import crop_line

SUPPORT_DIRNAME = Path(__file__).parent / "iam_lines"
NUM_LINES = 8
MARGIN = 8


def main() -> None:
    dataset = IamDataset()
    dataset.load_or_generate_data()
    chosen = []
    for extension in (".jpg", ".png"):
        lines = [
            line
            for line in dataset.lines
            if line.split == "test" and dataset.form_members[line.form_id].endswith(extension)
        ]
        chosen += [lines[i] for i in np.linspace(0, len(lines) - 1, NUM_LINES // 2).astype(int)]
    pages = dict(dataset.form_images(sorted({line.form_id for line in chosen})))
    SUPPORT_DIRNAME.mkdir(exist_ok=True)
    texts = {}
    for line in chosen:
        crop = crop_line(pages[line.form_id], line.box, MARGIN)
        small = cv2.resize(crop, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
        cv2.imwrite(str(SUPPORT_DIRNAME / f"{line.line_id}.png"), small)
        texts[f"{line.line_id}.png"] = line.text
        print(f"{line.line_id}.png {small.shape} {dataset.form_members[line.form_id]}: {line.text}")
    (SUPPORT_DIRNAME / "texts.json").write_text(json.dumps(texts, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
