"""Convolutional features, a bidirectional LSTM, and a softmax per time step, for CTC; any image width.

    >>> from text_recognizer.networks import line_lstm_ctc
    >>> line_lstm_ctc((28, 952), 80).output_shape   # one step per 8 pixels of width
    (None, None, 80)
"""

import keras

from text_recognizer.networks.line_features import line_conv_features


def line_lstm_ctc(
    input_shape: tuple[int, ...],
    num_classes: int,
    conv_filters: tuple[int, ...] = (16, 32, 64),
    pool_sizes: tuple[tuple[int, int], ...] | None = None,
    dense_size: int = 128,
    lstm_size: int = 128,
    lstm_layers: int = 1,
    dropout_amount: float = 0.2,
) -> keras.Model:
    """Conv blocks each max-pooling by its (height, width) of `pool_sizes` (default 2x2 each); each column of features
    then becomes one LSTM time step.

    The width is left open, so lines of any width (at least one step per character: 8 px with three 2x2 blocks) fit.
    Tall lines want more height pooling than width pooling, so that a narrow character still gets its own steps.
    """
    # JSON configs give lists.
    pools = tuple((int(h), int(w)) for h, w in pool_sizes) if pool_sizes else ((2, 2),) * len(conv_filters)
    inputs, x = line_conv_features((input_shape[0], None), tuple(conv_filters), pools)
    height, channels = x.shape[1], x.shape[3]
    x = keras.layers.Permute((2, 1, 3))(x)
    x = keras.layers.Reshape((-1, height * channels))(x)
    x = keras.layers.Dense(dense_size, activation="relu")(x)
    x = keras.layers.Dropout(dropout_amount)(x)
    for _ in range(lstm_layers):
        x = keras.layers.Bidirectional(keras.layers.LSTM(lstm_size, return_sequences=True))(x)
        x = keras.layers.Dropout(dropout_amount)(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="line_lstm_ctc")
