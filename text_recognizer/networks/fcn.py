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


def _upsample(x: keras.KerasTensor, factor: int) -> keras.KerasTensor:
    """Bilinear upsampling by `factor` of features whose height and width are known only at run time."""
    import tensorflow as tf  # keras.ops.image.resize wants sides known when the graph is traced

    shape = tf.shape(x)
    return tf.image.resize(x, (shape[1] * factor, shape[2] * factor), method="bilinear")


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

    `input_shape` (None, None) takes images of any size whose sides are multiples of `strides` (whole pages); the row
    context then summarises a row by its mean instead of a convolution as wide as the image.

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
    if strides < 1 or strides & (strides - 1) or any(side and side % strides for side in (height, width)):
        raise ValueError(f"strides {strides} must be a power of 2 dividing the input {height}x{width}")
    inputs = keras.Input(shape=(height, width), dtype="uint8", name="image")
    x = keras.layers.Rescaling(1.0 / 255)(inputs)
    if height and width:
        x = keras.layers.Reshape((height, width, 1))(x)
    else:  # any size (whole pages): a reshape cannot name the sides
        x = keras.layers.Lambda(lambda t: keras.ops.expand_dims(t, -1), name="add_channel")(x)
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
        if width:
            rows = keras.layers.Conv2D(filters, (1, width // strides), use_bias=False)(x)  # (height / strides, 1) rows
        else:  # a width unknown until run time: each row's mean, then a 1x1 convolution
            rows = keras.layers.Lambda(lambda t: keras.ops.mean(t, axis=2, keepdims=True), name="row_mean")(x)
            rows = keras.layers.Conv2D(filters, 1, use_bias=False)(rows)
        rows = keras.layers.Activation("relu")(keras.layers.BatchNormalization(momentum=0.9)(rows))
        for dilation in dilations:
            shortcut = rows
            rows = keras.layers.Conv2D(filters, (3, 1), padding="same", dilation_rate=(dilation, 1))(rows)
            rows = keras.layers.Activation("relu")(rows)
            rows = keras.layers.Conv2D(filters, (3, 1), padding="same", dilation_rate=(dilation, 1))(rows)
            rows = keras.layers.Activation("relu")(keras.layers.Add()([shortcut, rows]))
        if width:
            x = keras.layers.Add()([x, keras.layers.UpSampling2D((1, width // strides))(rows)])
        else:  # the row summaries broadcast along the width
            x = keras.layers.Lambda(lambda pair: pair[0] + pair[1], name="add_rows")([x, rows])
    if dropout_amount:
        x = keras.layers.SpatialDropout2D(dropout_amount)(x)
    x = keras.layers.Conv2D(num_classes, 1)(x)  # class scores, upsampled before the softmax so that it sums to 1
    if strides > 1 and height and width:
        x = keras.layers.UpSampling2D(strides, interpolation="bilinear")(x)
    elif strides > 1:  # UpSampling2D cannot scale sides unknown until run time
        x = keras.layers.Lambda(
            lambda t: _upsample(t, strides), output_shape=(None, None, num_classes), name="upsample"
        )(x)
    outputs = keras.layers.Softmax()(x)
    return keras.Model(inputs, outputs, name="fcn")
