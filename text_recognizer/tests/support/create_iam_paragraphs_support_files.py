"""Writes a few real IAM test-split paragraphs to `support/iam_paragraphs/<form id>.png`, their texts to `texts.json`.

    TEXT_RECOGNIZER_DATA_MIRROR=../shared/data/raw \
        python -m text_recognizer.tests.support.create_iam_paragraphs_support_files

The forms are spread evenly over the test split, half scanned (.jpg), half binarized (.png); each is cut as the IAM
paragraphs data set cuts it and kept dark ink on light paper at half the page resolution. A text holds the form's
inked lines joined with newlines, so its line count is the number of lines to detect.
"""

import json
from pathlib import Path

import cv2
import numpy as np

from text_recognizer.datasets import IamDataset, IamParagraphsDataset
from text_recognizer.datasets.iam_paragraphs_dataset import iam_paragraphs

SUPPORT_DIRNAME = Path(__file__).parent / "iam_paragraphs"
NUM_PAGES = 4


def main() -> None:
    iam = IamDataset()
    iam.load_or_generate_data()
    paragraphs = [p for p in iam_paragraphs(iam, {"test"}, IamParagraphsDataset().margin) if p.lines]
    chosen = []
    for extension in (".jpg", ".png"):
        kind = [p for p in paragraphs if iam.form_members[p.form_id].endswith(extension)]
        chosen += [kind[i] for i in np.linspace(0, len(kind) - 1, NUM_PAGES // 2).astype(int)]
    SUPPORT_DIRNAME.mkdir(exist_ok=True)
    texts = {}
    for paragraph in chosen:
        small = cv2.resize(paragraph.crop, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
        cv2.imwrite(str(SUPPORT_DIRNAME / f"{paragraph.form_id}.png"), small)
        texts[f"{paragraph.form_id}.png"] = "\n".join(line.text for line in paragraph.lines)
        print(f"{paragraph.form_id}.png {small.shape}: {len(paragraph.lines)} lines")
    (SUPPORT_DIRNAME / "texts.json").write_text(json.dumps(texts, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
