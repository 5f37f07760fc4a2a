"""The CTC loss of networks that emit a softmax over the classes at every time step.

The blank is a class of the mapping (the `_` padding token), which also pads the label sequences. Decoding is
`text_recognizer.decoding`'s, which the runtime shares.

    >>> loss = CtcLoss(blank_label=79)   # model.compile(loss=loss, ...)
"""

from typing import Any

import keras
from keras import ops

_EPSILON = 1e-7


class CtcLoss(keras.losses.Loss):
    """Per-line CTC loss of softmax outputs (batch, steps, classes) against label sequences (batch, max_length).

    A label sequence ends at its first `blank_label`; every output step is valid (lines are padded with blank ink).
    """

    def __init__(self, blank_label: int, name: str = "ctc", **kwargs: Any):
        super().__init__(name=name, **kwargs)
        self.blank_label = blank_label

    def call(self, y_true: Any, y_pred: Any) -> Any:
        labels = ops.cast(y_true, "int32")
        label_length = ops.sum(ops.cast(ops.not_equal(labels, self.blank_label), "int32"), axis=-1)
        shape = ops.shape(y_pred)
        output_length = ops.full((shape[0],), shape[1], dtype="int32")
        # The backend's CTC applies a log-softmax; on log-probabilities that is the identity.
        log_probabilities = ops.log(ops.clip(y_pred, _EPSILON, 1.0))
        return ops.ctc_loss(labels, log_probabilities, label_length, output_length, mask_index=self.blank_label)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "blank_label": self.blank_label}
