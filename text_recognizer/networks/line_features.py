"""The convolutional front end of the line networks: a uint8 line image to a grid of local features.

    >>> inputs, features = line_conv_features((28, None), filters=(16, 32, 64), pool_sizes=((2, 2),) * 3)
    >>> features.shape   # height and width divided by 8
    (None, 3, None, 64)
"""

import keras


def line_conv_features(
    input_shape: tuple[int | None, ...], filters: tuple[int, ...], pool_sizes: tuple[tuple[int, int], ...]
) -> tuple[keras.KerasTensor, keras.KerasTensor]:
    """Input layer (height, width) of white-on-black uint8 pixels and its conv-BN-ReLU-max-pool blocks' output."""
    height, width = input_shape[:2]
    inputs = keras.Input(shape=(height, width), dtype="uint8", name="image")
    x = keras.layers.Rescaling(1.0 / 255)(inputs)
    x = keras.layers.Reshape((height, -1, 1))(x)
    for block_filters, pool_size in zip(filters, pool_sizes, strict=True):
        x = keras.layers.Conv2D(block_filters, 3, padding="same", use_bias=False)(x)
        # Adam moves the conv weights fast early on; the default momentum (0.99) leaves the inference statistics so
        # far behind that CTC outputs collapse at inference while the training loss still falls.
        x = keras.layers.BatchNormalization(momentum=0.9)(x)
        x = keras.layers.Activation("relu")(x)
        x = keras.layers.MaxPooling2D(pool_size)(x)
    return inputs, x
