"""Keras to TFLite conversion for TFLM: full-integer int8, or float.

TensorFlow is imported inside the functions, never at module import: the harness runs devices
and the twin without TensorFlow (it is the optional ``tf`` extra) and importing it costs seconds.

Determinism: conversion has no randomness of its own. For one TensorFlow version, the same
model and the same representative samples (in the same order) give byte-identical output; the
same model reloaded from a file converts to the same computation, though its tensor names (and
so its bytes) may differ.
Across TensorFlow versions the output can differ (op versions, operator order, quantisation
parameters, per-channel choices), so every artifact should be stored with the TensorFlow
version that produced it (:func:`versions`). Training is made repeatable by
:func:`seed_everything`.
"""

from __future__ import annotations

import contextlib
import io
import os
import random
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError

# A keras.Model. Not named as a type here, so that type checking and import stay TensorFlow-free.
KerasModel = Any
ModelSource = KerasModel | str | os.PathLike[str]

KERAS_SUFFIXES = (".keras", ".h5", ".hdf5")


def quiet_tensorflow() -> None:
    """Call before TensorFlow loads: oneDNN's fused CPU kernels may round differently run to
    run and machine to machine (the plain kernels keep training and calibration repeatable),
    and its start-up log is noise in reports."""
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def seed_everything(seed: int) -> None:
    """Seeds Python, NumPy and TensorFlow, and asks TensorFlow for deterministic kernels."""
    random.seed(seed)
    np.random.seed(seed)
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)  # Python, NumPy and the backend's global seed
    # Without this some CPU kernels (reductions in gradients) may sum in varying order.
    tf.config.experimental.enable_op_determinism()


def versions() -> dict[str, str]:
    """Versions of the converter stack, to record beside every converted model."""
    import keras
    import tensorflow as tf

    return {"tensorflow": tf.__version__, "keras": keras.__version__, "numpy": np.__version__}


def load_keras(path: str | os.PathLike[str]) -> KerasModel:
    """Loads a ``.keras`` model or a legacy ``.h5`` one, without its training configuration."""
    p = Path(path)
    if p.suffix.lower() not in KERAS_SUFFIXES:
        raise ConfigError(
            f"{p} is not a Keras model file: expected one of {', '.join(KERAS_SUFFIXES)} "
            "(a SavedModel directory can be passed to the convert functions directly)"
        )
    if not p.is_file():
        raise ConfigError(f"Keras model file {p} does not exist")
    import keras

    try:
        # compile=False: conversion needs no optimizer or loss, and a legacy .h5 may name
        # custom losses this process cannot resolve.
        return keras.models.load_model(p, compile=False)
    except Exception as exc:  # Keras raises ValueError, OSError, TypeError... for bad files
        raise ConfigError(f"cannot load Keras model {p}: {exc}") from exc


def convert_int8(
    model: ModelSource,
    representative: np.ndarray | Sequence[np.ndarray],
    *,
    int8_io: bool = True,
    per_channel_dense: bool = False,
) -> bytes:
    """Full integer quantisation: every op int8 (``TFLITE_BUILTINS_INT8``), as TFLM runs best.

    ``representative`` calibrates the activation ranges: for a one-input model an array of
    samples shaped (N, *input_shape) or (N, *input_shape[1:]); for several inputs, one such
    array per input. Use a few hundred real training samples.

    With ``int8_io`` the model's inputs and outputs are int8 too. Without it they stay float32
    and the converter adds QUANTIZE and DEQUANTIZE at the edges.

    Dense (FULLY_CONNECTED) weights are quantised per tensor unless ``per_channel_dense``: the
    Arduino TFLM library (2023) runs per-channel FULLY_CONNECTED weights with one scale and
    silently gives other answers (docs/firmware.md). Convolutions stay per channel.
    """
    import tensorflow as tf

    converter, input_shapes = _converter(model)
    samples = _representative(representative, input_shapes)

    def dataset() -> Iterator[list[np.ndarray]]:
        for i in range(len(samples[0])):
            yield [s[i] for s in samples]

    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = dataset
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    if int8_io:
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    # A private switch (TF >= 2.16); older converters quantise dense layers per tensor anyway.
    if hasattr(converter, "_experimental_disable_per_channel_quantization_for_dense_layers"):
        converter._experimental_disable_per_channel_quantization_for_dense_layers = (
            not per_channel_dense
        )
    return _run(converter)


def convert_float(model: ModelSource) -> bytes:
    """Float32 conversion with builtin ops only: the float reference for the device's int8 model."""
    import tensorflow as tf

    converter, _ = _converter(model)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    return _run(converter)


def _converter(model: ModelSource) -> tuple[Any, list[tuple[int | None, ...]]]:
    """A TFLiteConverter for a Keras model, a Keras file or a SavedModel directory.

    A SavedModel converts with the batch dimension of its serving signature: if that is None,
    the converter adds SHAPE/STRIDED_SLICE/PACK ops, which a microcontroller does not want.
    Export with a batch-1 signature (``model.export(path, input_signature=[TensorSpec((1,
    ...))])``) or pass the Keras model, whose fixed batch size of 1 avoids them.
    """
    import tensorflow as tf

    if isinstance(model, str | os.PathLike):
        p = Path(model)
        if p.is_dir():
            if not (p / "saved_model.pb").is_file():
                raise ConfigError(f"{p} is a directory without saved_model.pb: not a SavedModel")
            converter = tf.lite.TFLiteConverter.from_saved_model(str(p))
            loaded = tf.saved_model.load(str(p))
            # The converter reads the default serving signature; take the shapes from it too.
            if "serving_default" not in loaded.signatures:
                raise ConfigError(f"SavedModel {p} has no 'serving_default' signature")
            specs = loaded.signatures["serving_default"].structured_input_signature[1]
            return converter, [tuple(specs[k].shape.as_list()) for k in sorted(specs)]
        model = load_keras(p)
    shapes = [tuple(t.shape) for t in model.inputs]
    return tf.lite.TFLiteConverter.from_keras_model(model), shapes


def _representative(
    data: np.ndarray | Sequence[np.ndarray], input_shapes: list[tuple[int | None, ...]]
) -> list[np.ndarray]:
    """Validates the calibration samples; returns, per input, an array (N, *input_shape)."""
    arrays = [data] if isinstance(data, np.ndarray) else list(data)
    if len(arrays) != len(input_shapes):
        raise ConfigError(
            f"the model has {len(input_shapes)} inputs, the representative data {len(arrays)}"
        )
    out = []
    for k, (arr, shape) in enumerate(zip(arrays, input_shapes, strict=True)):
        arr = np.asarray(arr)
        if arr.ndim == 0 or arr.shape[0] == 0:
            raise ConfigError(f"representative data for input {k} is empty")
        if not np.issubdtype(arr.dtype, np.number) or not np.all(np.isfinite(arr)):
            raise ConfigError(f"representative data for input {k} is not finite numbers")
        # A batch dimension of None (a variable batch) is fed as 1, one sample per step.
        one = tuple(1 if d is None else int(d) for d in shape)
        if arr.shape[1:] not in (one, one[1:]) or one[0] != 1:
            raise ConfigError(
                f"representative data for input {k} has shape {arr.shape}, expected "
                f"(N, {', '.join(map(str, one))}) or (N, {', '.join(map(str, one[1:]))})"
            )
        out.append(arr.astype(np.float32).reshape((arr.shape[0], *one)))
    if len({len(a) for a in out}) > 1:
        raise ConfigError("representative data holds a different number of samples per input")
    return out


def _run(converter: Any) -> bytes:
    # Keras' export step prints its endpoint listing on stdout and the converter warns about
    # input statistics it does not need for post-training quantisation: keep both out of logs.
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Statistics for quantized inputs")
        try:
            data = converter.convert()
        except Exception as exc:  # the converter raises ConverterError and friends
            raise ConfigError(f"TFLite conversion failed: {exc}") from exc
    return bytes(data)
