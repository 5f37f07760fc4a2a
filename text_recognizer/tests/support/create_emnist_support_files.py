"""Writes a few real EMNIST test-split images to `support/emnist/<char>.png` for the predictor tests.

    TEXT_RECOGNIZER_DATA_MIRROR=../shared/data/raw python -m text_recognizer.tests.support.create_emnist_support_files

One image per chosen character: the first test image of that class that the shipped LeNet-class model need not
guess at, i.e. the characters that EMNIST ByClass does not confuse by nature (no o/O/0, l/1/I, s/S, ...).
"""

from pathlib import Path

import cv2

from text_recognizer.datasets import EmnistDataset

SUPPORT_DIRNAME = Path(__file__).parent / "emnist"
CHARACTERS = "2345678ABDEFGHLMNQRTYabdefghnqrt"


def main() -> None:
    dataset = EmnistDataset()
    dataset.load_or_generate_data()
    SUPPORT_DIRNAME.mkdir(exist_ok=True)
    for char in CHARACTERS:
        index = int((dataset.y_test == dataset.inverse_mapping[char]).nonzero()[0][0])
        # Upper and lower case share a file system on some machines: prefix the case.
        name = f"{'upper' if char.isupper() else 'lower' if char.islower() else 'digit'}_{char}.png"
        cv2.imwrite(str(SUPPORT_DIRNAME / name), dataset.x_test[index])
        print(name)


if __name__ == "__main__":
    main()
