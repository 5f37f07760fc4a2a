"""Networks: pure functions from (input shape, number of classes, options) to a Keras model."""

from text_recognizer.networks.lenet import lenet
from text_recognizer.networks.mlp import mlp

__all__ = ["lenet", "mlp"]
