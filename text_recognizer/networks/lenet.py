"""LeNet-style convolutional network: two conv blocks, then a dense classifier.

    >>> from text_recognizer.networks import lenet
    >>> lenet((28, 28), 80).output_shape
    (None, 80)
"""

import keras


def lenet(
    input_shape: tuple[int, ...],
    num_classes: int,
    filters: int = 32,
    dense_size: int = 256,
    dropout_amount: float = 0.3,
) -> keras.Model:
    """Conv-conv-pool twice (`filters`, then twice as many), batch-normalised, then dense and softmax."""
    inputs = keras.Input(shape=input_shape, dtype="uint8", name="image")
    x = keras.layers.Rescaling(1.0 / 255)(inputs)
    if len(input_shape) == 2:
        x = keras.layers.Reshape((*input_shape, 1))(x)
    for block_filters in (filters, 2 * filters):
        for _ in range(2):
            x = keras.layers.Conv2D(block_filters, 3, padding="same", use_bias=False)(x)
            x = keras.layers.BatchNormalization()(x)
            x = keras.layers.Activation("relu")(x)
        x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dropout(dropout_amount)(x)
    x = keras.layers.Dense(dense_size, activation="relu")(x)
    x = keras.layers.Dropout(dropout_amount)(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="lenet")
