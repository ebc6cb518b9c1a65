"""Tiny .tflite flatbuffers built from the schema bindings: models with chosen ops, no TensorFlow.

The models chain one int8 [1, 4] tensor through each op. They are valid flatbuffers for the
parser and the code generator; they are not meant to run (the ops get no weights).
"""

from __future__ import annotations

import flatbuffers
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

from harness.tflite.model import TfliteModel

CUSTOM_PREFIX = "custom:"


def _opcode(name: str) -> schema.OperatorCodeT:
    code = schema.OperatorCodeT()
    code.version = 1
    if name.startswith(CUSTOM_PREFIX):
        code.builtinCode = schema.BuiltinOperator.CUSTOM
        code.deprecatedBuiltinCode = schema.BuiltinOperator.CUSTOM
        code.customCode = name.removeprefix(CUSTOM_PREFIX).encode()
    else:
        builtin = getattr(schema.BuiltinOperator, name)
        code.builtinCode = builtin
        # Codes above 127 live only in builtinCode; the deprecated byte holds the placeholder.
        code.deprecatedBuiltinCode = min(builtin, 127)
    return code


def tiny_model_bytes(ops: list[str], *, seed: int = 0, weight_scales: int = 0) -> bytes:
    """ops: builtin names (CONV_2D) or 'custom:<code>'; seed changes the bytes, not the ops.

    weight_scales > 0 gives each op a second input, a [4, 4] weight tensor quantized with that
    many scales (more than one: per-channel).
    """
    model = schema.ModelT()
    model.version = 3
    model.description = f"tflm-hil test model {seed}".encode()
    model.buffers = [schema.BufferT()]
    sg = schema.SubGraphT()
    sg.tensors = []
    for i in range(len(ops) + 1):
        t = schema.TensorT()
        t.shape = [1, 4]
        t.type = schema.TensorType.INT8
        t.buffer = 0
        t.name = f"t{i}".encode()
        q = schema.QuantizationParametersT()
        q.scale = [0.05]
        q.zeroPoint = [-3]
        t.quantization = q
        sg.tensors.append(t)
    sg.inputs = [0]
    sg.outputs = [len(ops)]
    weights = None
    if weight_scales:
        w = schema.TensorT()
        w.shape = [4, 4]
        w.type = schema.TensorType.INT8
        w.buffer = 0
        w.name = b"weights"
        wq = schema.QuantizationParametersT()
        wq.scale = [0.01 * (1 + i) for i in range(weight_scales)]
        wq.zeroPoint = [0] * weight_scales
        w.quantization = wq
        weights = len(sg.tensors)
        sg.tensors.append(w)
    names: list[str] = []
    sg.operators = []
    for i, name in enumerate(ops):
        if name not in names:
            names.append(name)
        op = schema.OperatorT()
        op.opcodeIndex = names.index(name)
        op.inputs = [i] if weights is None else [i, weights]
        op.outputs = [i + 1]
        sg.operators.append(op)
    model.operatorCodes = [_opcode(n) for n in names]
    model.subgraphs = [sg]
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def tiny_model(
    ops: list[str], *, seed: int = 0, source: str = "tiny.tflite", weight_scales: int = 0
) -> TfliteModel:
    return TfliteModel(tiny_model_bytes(ops, seed=seed, weight_scales=weight_scales), source)
