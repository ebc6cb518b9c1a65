"""Model architectures the pipeline trains, each built from the input shape and class count.

``cnn2d`` is the example digits classifier (conv, depthwise, pointwise, max-pool, dense,
softmax); ``dense`` suits flat vectors and sensor windows (flatten, one hidden layer,
dense, softmax). Both use only ops every TFLM build carries. Each is built twice: with a
variable batch to train, and with batch 1 to convert and ship (a fixed batch of 1 keeps
SHAPE/STRIDED_SLICE ops out of the converted model).
"""

from __future__ import annotations

from typing import Any

from ...errors import ConfigError

ARCHITECTURES = ("auto", "cnn2d", "dense")


def choose(name: str, input_shape: tuple[int, ...]) -> str:
    if name not in ARCHITECTURES:
        raise ConfigError(f"--architecture {name!r} is not one of {', '.join(ARCHITECTURES)}")
    image = len(input_shape) == 3 and input_shape[0] >= 3 and input_shape[1] >= 3
    if name == "auto":
        return "cnn2d" if image else "dense"
    if name == "cnn2d" and not image:
        raise ConfigError(
            f"cnn2d needs (height, width, channels) inputs of at least 3x3, not "
            f"{'x'.join(map(str, input_shape))}: use --architecture dense or pass --shape H,W,C"
        )
    return name


def build(name: str, input_shape: tuple[int, ...], classes: int, *, batch_size: int | None,
          dropout: float, dense_units: int) -> Any:
    import keras
    from keras import layers

    inputs = keras.Input(input_shape, batch_size=batch_size, name="input")
    if name == "cnn2d":
        x = layers.Conv2D(16, 3, padding="same", activation="relu", name="conv")(inputs)
        x = layers.DepthwiseConv2D(3, padding="same", activation="relu", name="dwconv")(x)
        x = layers.Conv2D(32, 1, activation="relu", name="pwconv")(x)
        x = layers.MaxPooling2D(2, name="pool")(x)
        x = layers.Flatten(name="flatten")(x)
    else:
        x = layers.Flatten(name="flatten")(inputs)
        x = layers.Dense(dense_units, activation="relu", name="hidden")(x)
    x = layers.Dropout(dropout, name="dropout")(x)  # training only: absent once converted
    x = layers.Dense(classes, name="logits")(x)
    outputs = layers.Softmax(name="probs")(x)
    return keras.Model(inputs, outputs, name=name)
