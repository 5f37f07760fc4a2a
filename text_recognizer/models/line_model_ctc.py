"""Reads a line of handwriting of any width with a network trained by CTC (no character positions needed).

    >>> from text_recognizer.models.base import load_shipped_model
    >>> model = load_shipped_model("LineModelCtc_EmnistLinesDataset_line_lstm_ctc")
    >>> model.predict_on_images([image])   # [(text, confidence)]
"""

from typing import Any

import numpy as np

from text_recognizer.models.line_model import LineModel
from text_recognizer.networks.ctc import CtcLoss, ctc_decode


class LineModelCtc(LineModel):
    """A network giving a softmax per time step; the data set's padding label is CTC's blank.

    `beam_width` above 1 decodes with beam search instead of the greedy best path.
    """

    variable_width = True
    beam_width = 1

    def loss(self) -> Any:
        return CtcLoss(blank_label=self.data.padding_label)

    def metrics(self) -> list[Any]:
        return []  # the CTC loss is what training watches; error rates need decoding, done in `evaluate`

    def decode(self, probabilities: np.ndarray) -> tuple[list[list[int]], np.ndarray]:
        """CTC label sequences and their probabilities (the greedy path's, or the beam's)."""
        return ctc_decode(probabilities, self.data.padding_label, self.beam_width)
