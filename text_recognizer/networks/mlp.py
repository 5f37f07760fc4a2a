"""Multi-layer perceptron over a flattened image.

    >>> from text_recognizer.networks import mlp
    >>> mlp((28, 28), 80).output_shape
    (None, 80)
"""

import keras


def mlp(
    input_shape: tuple[int, ...],
    num_classes: int,
    layer_size: int = 256,
    dropout_amount: float = 0.2,
    num_layers: int = 3,
) -> keras.Model:
    """`num_layers` ReLU layers of `layer_size` units with dropout, then a softmax over `num_classes`."""
    inputs = keras.Input(shape=input_shape, dtype="uint8", name="image")
    x = keras.layers.Rescaling(1.0 / 255)(inputs)
    x = keras.layers.Flatten()(x)
    for _ in range(num_layers):
        x = keras.layers.Dense(layer_size, activation="relu")(x)
        x = keras.layers.Dropout(dropout_amount)(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="mlp")
