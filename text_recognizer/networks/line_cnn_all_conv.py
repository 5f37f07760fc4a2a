"""All-convolutional fixed-length line reader: one softmax per character cell of a fixed-width line.

    >>> from text_recognizer.networks import line_cnn_all_conv
    >>> line_cnn_all_conv((28, 952), 80).output_shape   # 952 / 28 = 34 cells
    (None, 34, 80)
"""

import keras

from text_recognizer.networks.line_features import line_conv_features


def line_cnn_all_conv(
    input_shape: tuple[int, ...],
    num_classes: int,
    output_length: int | None = None,
    conv_filters: tuple[int, ...] = (16, 32, 64),
    window_filters: int = 256,
    dropout_amount: float = 0.2,
) -> keras.Model:
    """Conv blocks down to a 4-pixel stride, then a window two cells wide that slides one cell at a time.

    `output_length` (default: width / height, i.e. square cells) positions each classify the character in one cell,
    so this reads lines whose characters sit near their cells: it is a baseline for the CTC network.
    """
    height, width = input_shape[:2]
    output_length = output_length or width // height
    # Only the first two blocks halve the width, so a cell is a whole number of 4-pixel steps.
    pool_sizes = ((2, 2), (2, 2)) + ((2, 1),) * (len(conv_filters) - 2)
    if width % (4 * output_length):
        raise ValueError(f"The width {width} must be a multiple of 4 * output_length = {4 * output_length}")
    cell = width // (4 * output_length)
    inputs, x = line_conv_features(input_shape, tuple(conv_filters), pool_sizes)
    # Half a cell of padding each side centres each two-cell window on its cell.
    x = keras.layers.ZeroPadding2D(((0, 0), (cell // 2, cell - cell // 2)))(x)
    x = keras.layers.Conv2D(window_filters, (x.shape[1], 2 * cell), strides=(1, cell), activation="relu")(x)
    x = keras.layers.Dropout(dropout_amount)(x)
    x = keras.layers.Conv2D(num_classes, 1, activation="softmax")(x)
    outputs = keras.layers.Reshape((output_length, num_classes))(x)
    return keras.Model(inputs, outputs, name="line_cnn_all_conv")
