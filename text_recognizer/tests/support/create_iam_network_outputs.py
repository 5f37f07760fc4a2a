"""Writes the shipped IAM line network's softmax outputs for the support lines (`IAM_TEXTS` order) to
`support/iam_lines/network_outputs.npz`, for the decoder tests: fixed outputs, so that what they compare (two beam
searches, one language model) does not move each time the reader is retrained.

    python -m text_recognizer.tests.support.create_iam_network_outputs

The stored file was made at commit b9f6cb7, by the reader shipped then (trained on IAM's own crops: "line"
preprocessing), on whose outputs the decoder tests' figures were first measured.
"""

import json

import keras
import numpy as np

from text_recognizer.models.base import load_shipped_model
from text_recognizer.preprocessing import as_page, prepare
from text_recognizer.tests.support.create_iam_lines_support_files import SUPPORT_DIRNAME
from text_recognizer.util import atomic_path, read_image

OUTPUTS_FILENAME = SUPPORT_DIRNAME / "network_outputs.npz"


def main() -> None:
    texts = json.loads((SUPPORT_DIRNAME / "texts.json").read_text())
    model = load_shipped_model("LineModelCtc_IamLinesDataset_line_lstm_ctc")
    spec = model.contract()["preprocessing"]
    batch = np.stack([prepare(as_page(read_image(SUPPORT_DIRNAME / name)), spec) for name in texts])
    outputs = keras.ops.convert_to_numpy(model.network.predict_on_batch(batch)).astype(np.float32)
    with atomic_path(OUTPUTS_FILENAME) as path, path.open("wb") as file:
        np.savez_compressed(file, outputs=outputs)
    print(f"{OUTPUTS_FILENAME}: {outputs.shape} from {spec}")


if __name__ == "__main__":
    main()
