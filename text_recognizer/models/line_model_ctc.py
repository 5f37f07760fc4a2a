"""Reads a line of handwriting of any width with a network trained by CTC (no character positions needed).

>>> from text_recognizer.models.base import load_shipped_model
>>> model = load_shipped_model("LineModelCtc_EmnistLinesDataset_line_lstm_ctc")
>>> model.evaluate(x_test, y_test)   # {"cer": ..., "wer": ..., "line_accuracy": ...} on lines in its format
"""

from typing import Any

import numpy as np

from text_recognizer.decoding import CtcDecoder
from text_recognizer.language_model import arpa_file
from text_recognizer.models.base import WEIGHTS_DIRNAME
from text_recognizer.models.line_model import LineModel
from text_recognizer.networks.ctc import CtcLoss


class LineModelCtc(LineModel):
    """A network giving a softmax per time step; the data set's padding label is CTC's blank.

    Decoding is set by the config's `model_args` (those of `set_decoder`); none of them changes training.

    Args:
        beam_width: above 1 (or with a language model), CTC beam search of this width instead of the greedy best path.
        language_model: a shipped `CharNgramModel` (`weights/<name>.npz`) over the data set's characters; beam
            search then adds `lm_weight` times its log-probability of each character to the network's.
        lm_weight: how much the language model counts against the network.
        length_bonus: added to the network's log-probability of every character at every step (a penalty on the
            blank), to offset the language model's cost of each character (its pull to short readings).

    See `text_recognizer.decoding.CtcDecoder`, which decodes, as the runtime does.
    """

    variable_width = True

    def __init__(
        self,
        *args: Any,
        beam_width: int = 1,
        language_model: str | None = None,
        lm_weight: float = 0.0,
        length_bonus: float = 0.0,
        **kwargs: Any,
    ):
        super().__init__(*args, **kwargs)
        self.set_decoder(beam_width, language_model, lm_weight, length_bonus)

    def set_decoder(
        self, beam_width: int = 1, language_model: str | None = None, lm_weight: float = 0.0, length_bonus: float = 0.0
    ) -> None:
        """Decode from now on as the arguments (those of the constructor) say."""
        arpa = None
        if language_model is not None:
            path = WEIGHTS_DIRNAME / f"{language_model}.npz"
            if not path.is_file():
                raise ValueError(f"No language model {language_model!r}: {path} is missing")
            arpa = arpa_file(path)  # its ARPA file, written the first time
        self.decoder = CtcDecoder(self.data.mapping, self.data.padding_label, beam_width, arpa, lm_weight, length_bonus)
        self.language_model = language_model

    def loss(self) -> Any:
        return CtcLoss(blank_label=self.data.padding_label)

    def metrics(self) -> list[Any]:
        return []  # the CTC loss is what training watches; error rates need decoding, done in `evaluate`

    def decode(self, probabilities: np.ndarray) -> tuple[list[list[int]], np.ndarray]:
        """CTC label sequences and the network's confidence in each (see `CtcDecoder.decode`)."""
        return self.decoder.decode(probabilities)
