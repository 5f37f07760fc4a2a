"""Networks: pure functions from (input shape, number of classes, options) to a Keras model."""

from text_recognizer.networks.fcn import fcn
from text_recognizer.networks.lenet import lenet
from text_recognizer.networks.line_cnn_all_conv import line_cnn_all_conv
from text_recognizer.networks.line_lstm_ctc import line_lstm_ctc
from text_recognizer.networks.mlp import mlp

__all__ = ["fcn", "lenet", "line_cnn_all_conv", "line_lstm_ctc", "mlp"]
