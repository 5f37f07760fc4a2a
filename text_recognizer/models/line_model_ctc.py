"""Reads a line of handwriting of any width with a network trained by CTC (no character positions needed).

    >>> from text_recognizer.models.base import load_shipped_model
    >>> model = load_shipped_model("LineModelCtc_EmnistLinesDataset_line_lstm_ctc")
    >>> model.predict_on_images([image])   # [(text, confidence)]
"""

import functools
from typing import Any

import numpy as np

from text_recognizer.language_model import CharNgramModel
from text_recognizer.models.base import WEIGHTS_DIRNAME
from text_recognizer.models.line_model import LineModel
from text_recognizer.networks.ctc import CtcLoss, ctc_decode


@functools.cache
def _shipped_language_model(name: str) -> CharNgramModel:
    """One instance per shipped language model, shared by every model that decodes with it (and by its cache)."""
    path = WEIGHTS_DIRNAME / f"{name}.npz"
    if not path.is_file():
        raise ValueError(f"No language model {name!r}: {path} is missing")
    return CharNgramModel.load(path)


class LineModelCtc(LineModel):
    """A network giving a softmax per time step; the data set's padding label is CTC's blank.

    Decoding is set by the config's `model_args`; none of them changes training.

    Args:
        beam_width: above 1 (or with a language model), CTC beam search of this width instead of the greedy best path.
        language_model: a shipped `CharNgramModel` (`weights/<name>.npz`) over the data set's characters; beam
            search then adds `lm_weight` times its log-probability of each character, and `length_bonus`, to the
            network's log-probability of each reading.
        lm_weight: how much the language model counts against the network.
        length_bonus: added per character, to offset the language model's cost of each (its pull to short readings).
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
        if beam_width < 1:
            raise ValueError(f"beam_width must be at least 1, not {beam_width}")
        self.beam_width = beam_width
        self.lm_weight = lm_weight
        self.length_bonus = length_bonus
        self.language_model = None if language_model is None else self._load_language_model(language_model)

    def _load_language_model(self, name: str) -> CharNgramModel:
        language_model = _shipped_language_model(name)
        characters = set(self.data.mapping) - {self.data.mapping[self.data.padding_label]}
        if set(language_model.alphabet) != characters:
            raise ValueError(f"The language model {name!r} is not over the characters of {type(self.data).__name__}")
        self._lm_labels = np.array([self.data.inverse_mapping[char] for char in language_model.alphabet])
        return language_model

    def loss(self) -> Any:
        return CtcLoss(blank_label=self.data.padding_label)

    def metrics(self) -> list[Any]:
        return []  # the CTC loss is what training watches; error rates need decoding, done in `evaluate`

    def decode(self, probabilities: np.ndarray) -> tuple[list[list[int]], np.ndarray]:
        """CTC label sequences and their probabilities (the greedy path's, or the beam's)."""
        scorer = None if self.language_model is None else self._score_next
        return ctc_decode(probabilities, self.data.padding_label, self.beam_width, scorer, self.length_bonus)

    def _score_next(self, labels: tuple[int, ...]) -> np.ndarray:
        """`lm_weight` times the language model's log-probability of each label after `labels`."""
        assert self.language_model is not None
        # A line starts at a word: its context begins with a space.
        context = " " + "".join(self.data.mapping[label] for label in labels[-self.language_model.order :])
        scores = np.zeros(self.data.num_classes)
        scores[self._lm_labels] = self.lm_weight * np.log(self.language_model.probabilities(context))
        return scores
