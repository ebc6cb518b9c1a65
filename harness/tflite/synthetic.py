"""Benchmark models written without TensorFlow: flatbuffers built with the TFLite schema's
object API (the bindings ship with ``tflite-micro``).

``fc_model`` is the link benchmark's model: an int8 input of ``input_bytes`` elements, one
FULLY_CONNECTED layer to ``units`` int8 outputs, per-tensor quantization. The compute is
tiny on purpose: the benchmark measures the link and the protocol, not the kernels.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import flatbuffers
import numpy as np
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

SCHEMA_VERSION = 3
# FULLY_CONNECTED with int8 weights and activations is op version 4 in the TFLite converter.
FC_INT8_VERSION = 4


def _quant(scale: float, zero_point: int) -> schema.QuantizationParametersT:
    q = schema.QuantizationParametersT()
    q.scale = [float(scale)]
    q.zeroPoint = [int(zero_point)]
    return q


def _tensor(
    name: str, shape: list[int], ttype: int, buffer: int, scale: float, zp: int
) -> schema.TensorT:
    t = schema.TensorT()
    t.name = name.encode()
    t.shape = shape
    t.type = ttype
    t.buffer = buffer
    t.quantization = _quant(scale, zp)
    return t


def _buffer(data: bytes | None) -> schema.BufferT:
    b = schema.BufferT()
    b.data = list(data) if data else None
    return b


def _fc_layer(rng, depth: int, units: int, in_scale: float) -> tuple[np.ndarray, np.ndarray, float]:
    """Weights, bias and an output scale for int8 inputs uniform over their range: the
    accumulator's spread is ~ sqrt(depth) * std(x) * std(w), and outputs use the int8 range
    without saturating."""
    w_scale = 1.0 / 127
    weights = rng.integers(-127, 128, size=(units, depth), dtype=np.int8)
    bias = rng.integers(-2000, 2000, size=(units,), dtype=np.int32)
    acc_std = math.sqrt(depth) * 74.0 * 74.0 * in_scale * w_scale
    return weights, bias, 3.0 * acc_std / 127.0


def _fc_model(
    input_shape: list[int], widths: list[int], seed: int, out_scale: float | None, what: str
) -> bytes:
    """int8 input of ``input_shape`` through FULLY_CONNECTED layers: layer i has ``widths[i]``
    units over the previous activations' last ``depth`` elements (layer 0: the input's last
    dimension; later layers: all of the previous output, flattened)."""
    rng = np.random.default_rng(seed)
    in_scale, in_zp, w_scale, out_zp = 1.0 / 128, -1, 1.0 / 127, 3
    model = schema.ModelT()
    model.version = SCHEMA_VERSION
    model.description = what.encode()
    code = schema.OperatorCodeT()
    code.builtinCode = schema.BuiltinOperator.FULLY_CONNECTED
    code.deprecatedBuiltinCode = schema.BuiltinOperator.FULLY_CONNECTED
    code.version = FC_INT8_VERSION
    model.operatorCodes = [code]
    # Buffer 0 is the empty sentinel every converter emits; activations point at it.
    model.buffers = [_buffer(None)]
    sub = schema.SubGraphT()
    sub.name = b"main"
    sub.tensors = [_tensor("input", input_shape, schema.TensorType.INT8, 0, in_scale, in_zp)]
    sub.operators = []
    shape, scale, x = list(input_shape), in_scale, 0
    for i, units in enumerate(widths):
        depth = shape[-1] if i == 0 else int(np.prod(shape))
        rows = int(np.prod(shape)) // depth
        weights, bias, layer_scale = _fc_layer(rng, depth, units, scale)
        last = i == len(widths) - 1
        layer_scale = (out_scale or layer_scale) if last else layer_scale
        out_shape = [rows, units] if rows > 1 else [1, units]
        model.buffers += [_buffer(weights.tobytes()), _buffer(bias.tobytes())]
        nb, nt = len(model.buffers), len(sub.tensors)
        n = str(i) if len(widths) > 1 else ""
        sub.tensors += [
            _tensor(f"weights{n}", [units, depth], schema.TensorType.INT8, nb - 2, w_scale, 0),
            _tensor(f"bias{n}", [units], schema.TensorType.INT32, nb - 1, scale * w_scale, 0),
            _tensor("output" if last else f"act{i}", out_shape, schema.TensorType.INT8, 0,
                    layer_scale, out_zp if last else 0),
        ]
        op = schema.OperatorT()
        op.opcodeIndex = 0
        op.inputs, op.outputs = [x, nt, nt + 1], [nt + 2]
        op.builtinOptionsType = schema.BuiltinOptions.FullyConnectedOptions
        opts = schema.FullyConnectedOptionsT()
        opts.fusedActivationFunction = schema.ActivationFunctionType.NONE
        op.builtinOptions = opts
        sub.operators.append(op)
        shape, scale, x = out_shape, layer_scale, nt + 2
    sub.inputs, sub.outputs = [0], [x]
    model.subgraphs = [sub]
    size = sum(len(b.data or ()) for b in model.buffers)
    builder = flatbuffers.Builder(size + 4096)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def fc_model(
    input_bytes: int = 1024, units: int = 10, seed: int = 0, out_scale: float | None = None
) -> bytes:
    """A valid int8 .tflite: input int8 [1, input_bytes] -> FULLY_CONNECTED -> int8 [1, units].

    ``out_scale`` overrides the output scale (tests of result printing use tiny scales).
    """
    if input_bytes < 1 or units < 1:
        raise ValueError(f"input_bytes and units must be >= 1, got {input_bytes}, {units}")
    return _fc_model(
        [1, input_bytes], [units], seed, out_scale, "tflm-hil link benchmark: int8 FULLY_CONNECTED"
    )


def compute_model(rows: int = 96, depth: int = 288, hidden: int = 300, units: int = 10,
                  seed: int = 0) -> bytes:
    """An input of rows x depth int8 (27,648 bytes by default, a 96x96x3 image's size) with
    a real compute load for few weights: FULLY_CONNECTED applied to each of the ``rows``
    (rows x depth x hidden MACs: 8.3 M, about 0.57 s estimated on a 64 MHz Cortex-M4), then
    one over all of it to ``units`` outputs. The overlap benchmark's model."""
    return _fc_model(
        [rows, depth], [hidden, units], seed, None, "tflm-hil overlap benchmark: int8 FC per row"
    )


def write_compute_model(path: str | Path, **kw: int) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(compute_model(**kw))
    return p


def write_fc_model(
    path: str | Path, input_bytes: int = 1024, units: int = 10, seed: int = 0
) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(fc_model(input_bytes, units, seed))
    return p


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m harness.tflite.synthetic", description=__doc__)
    ap.add_argument("out", help="where to write the .tflite")
    ap.add_argument("--input-bytes", type=int, default=1024)
    ap.add_argument("--units", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    path = write_fc_model(args.out, args.input_bytes, args.units, args.seed)
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
