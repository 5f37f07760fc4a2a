"""CTC decoding for the TensorFlow-free runtime: numpy and flashlight-text only.

>>> import numpy as np
>>> from text_recognizer.decoding import CtcDecoder
>>> probabilities = np.eye(3, dtype=np.float32)[[[0, 2, 1, 1]]] * 0.97 + 0.01   # classes a, b and the blank
>>> sequences, confidences = CtcDecoder(["a", "b", "_"], blank=2).decode(probabilities)   # greedy
>>> sequences, confidences.round(2)
([[0, 1]], array([0.98]))

Each line's reading also tells where its labels fire (`CtcDecoder.read`), and so where its words lie (`split_words`).
"""

from text_recognizer.decoding.ctc import greedy_paths, path_labels, sequence_probabilities
from text_recognizer.decoding.decoder import CtcDecoder, Reading
from text_recognizer.decoding.words import WordSteps, split_words

__all__ = [
    "CtcDecoder",
    "Reading",
    "WordSteps",
    "greedy_paths",
    "path_labels",
    "sequence_probabilities",
    "split_words",
]
