"""Writes a few EMNIST Lines test-split lines to `support/emnist_lines/` for the line predictor tests.

    TEXT_RECOGNIZER_DATA_MIRROR=../shared/data/raw NLTK_DATA=../shared/data/nltk_data \
        python text_recognizer/tests/support/create_emnist_lines_support_files.py

Each line is cropped on the right to its ink (plus a margin) and saved as `<n>.png`; `texts.json` maps file names to
texts. The lines are the first test lines of at least `MIN_LENGTH` characters, drawn with the default arguments.
"""

import json
from pathlib import Path

import cv2
import numpy as np

from text_recognizer.datasets import EmnistLinesDataset

SUPPORT_DIRNAME = Path(__file__).parent / "emnist_lines"
NUM_LINES = 6
MIN_LENGTH = 12
MARGIN = 4


def main() -> None:
    dataset = EmnistLinesDataset(num_train=0, num_test=50)
    dataset.load_or_generate_data()
    SUPPORT_DIRNAME.mkdir(exist_ok=True)
    texts: dict[str, str] = {}
    # Typed as whole arrays: the data set starts them as np.empty(0), which types their rows as scalars.
    x_test: np.ndarray = dataset.x_test
    y_test: np.ndarray = dataset.y_test
    for image, labels in zip(x_test, y_test, strict=True):
        text = "".join(dataset.mapping[label] for label in labels).rstrip("_")
        if len(text) < MIN_LENGTH:
            continue
        ink_end = int(np.flatnonzero(image.max(axis=0))[-1]) + 1
        name = f"{len(texts)}.png"
        cv2.imwrite(str(SUPPORT_DIRNAME / name), image[:, : ink_end + MARGIN])
        texts[name] = text
        if len(texts) == NUM_LINES:
            break
    (SUPPORT_DIRNAME / "texts.json").write_text(json.dumps(texts, indent=2) + "\n")
    print(json.dumps(texts, indent=2))


if __name__ == "__main__":
    main()
