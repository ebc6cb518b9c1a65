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


def fc_model(
    input_bytes: int = 1024, units: int = 10, seed: int = 0, out_scale: float | None = None
) -> bytes:
    """A valid int8 .tflite: input int8 [1, input_bytes] -> FULLY_CONNECTED -> int8 [1, units].

    ``out_scale`` overrides the output scale (tests of result printing use tiny scales).
    """
    if input_bytes < 1 or units < 1:
        raise ValueError(f"input_bytes and units must be >= 1, got {input_bytes}, {units}")
    rng = np.random.default_rng(seed)
    in_scale, in_zp = 1.0 / 128, -1
    w_scale = 1.0 / 127
    weights = rng.integers(-127, 128, size=(units, input_bytes), dtype=np.int8)
    bias = rng.integers(-2000, 2000, size=(units,), dtype=np.int32)
    # Output scale from the accumulator's spread, so that outputs use the int8 range without
    # saturating for inputs uniform over it: std(acc) ~ sqrt(depth) * std(x) * std(w).
    acc_std = math.sqrt(input_bytes) * 74.0 * 74.0 * in_scale * w_scale
    out_scale = out_scale or 3.0 * acc_std / 127.0
    out_zp = 3

    model = schema.ModelT()
    model.version = SCHEMA_VERSION
    model.description = b"tflm-hil link benchmark: int8 FULLY_CONNECTED"
    code = schema.OperatorCodeT()
    code.builtinCode = schema.BuiltinOperator.FULLY_CONNECTED
    code.deprecatedBuiltinCode = schema.BuiltinOperator.FULLY_CONNECTED
    code.version = FC_INT8_VERSION
    model.operatorCodes = [code]
    # Buffer 0 is the empty sentinel every converter emits; activations point at it.
    model.buffers = [_buffer(None), _buffer(weights.tobytes()), _buffer(bias.tobytes())]

    sub = schema.SubGraphT()
    sub.name = b"main"
    sub.tensors = [
        _tensor("input", [1, input_bytes], schema.TensorType.INT8, 0, in_scale, in_zp),
        _tensor("weights", [units, input_bytes], schema.TensorType.INT8, 1, w_scale, 0),
        _tensor("bias", [units], schema.TensorType.INT32, 2, in_scale * w_scale, 0),
        _tensor("output", [1, units], schema.TensorType.INT8, 0, out_scale, out_zp),
    ]
    sub.inputs, sub.outputs = [0], [3]
    op = schema.OperatorT()
    op.opcodeIndex = 0
    op.inputs, op.outputs = [0, 1, 2], [3]
    op.builtinOptionsType = schema.BuiltinOptions.FullyConnectedOptions
    opts = schema.FullyConnectedOptionsT()
    opts.fusedActivationFunction = schema.ActivationFunctionType.NONE
    op.builtinOptions = opts
    sub.operators = [op]
    model.subgraphs = [sub]

    builder = flatbuffers.Builder(input_bytes * units + 4096)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


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
