"""Reads a .tflite flatbuffer: its operators (name and version), tensors and MAC counts.

The schema bindings come with the ``tflite-micro`` package, so no TensorFlow is needed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

try:
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema
except ImportError:  # tflite-micro builds before late 2026 ship the schema under lite/python
    from tflite_micro.tensorflow.lite.python import schema_py_generated as schema

from ..errors import ConfigError

# The schema's TensorType numbers (not TfLiteType's) -> numpy dtypes.
SCHEMA_DTYPES: dict[int, np.dtype] = {
    getattr(schema.TensorType, name): np.dtype(dt)
    for name, dt in (
        ("FLOAT32", np.float32),
        ("FLOAT16", np.float16),
        ("FLOAT64", np.float64),
        ("INT32", np.int32),
        ("UINT8", np.uint8),
        ("INT64", np.int64),
        ("BOOL", np.bool_),
        ("INT16", np.int16),
        ("INT8", np.int8),
        ("UINT32", np.uint32),
        ("UINT16", np.uint16),
    )
}

BUILTIN_NAMES: dict[int, str] = {
    code: name
    for name, code in vars(schema.BuiltinOperator).items()
    if not name.startswith("_") and isinstance(code, int)
}


@dataclass(frozen=True)
class TensorInfo:
    index: int
    name: str
    shape: tuple[int, ...]
    dtype: np.dtype
    scale: float
    zero_point: int
    per_channel: bool

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) * self.dtype.itemsize


@dataclass(frozen=True)
class OpInfo:
    name: str  # builtin operator name, e.g. CONV_2D, or the custom code
    version: int
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    macs: int


class TfliteModel:
    """A parsed model. Construction validates the file and names what is wrong."""

    def __init__(self, data: bytes, source: str = "<bytes>"):
        if len(data) < 8 or data[4:8] != b"TFL3":
            raise ConfigError(
                f"{source} is not a TFLite flatbuffer (no 'TFL3' identifier at byte 4): "
                "convert the model with tf.lite.TFLiteConverter and pass the .tflite file"
            )
        self.data = data
        self.source = source
        try:
            self._m = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(data, 0))
        except Exception as exc:  # a corrupt flatbuffer raises anything from struct to index errors
            raise ConfigError(f"{source} is a damaged TFLite flatbuffer: {exc}") from exc
        if not self._m.subgraphs:
            raise ConfigError(f"{source} has no subgraph: it is not a runnable model")

    @classmethod
    def load(cls, path: str | Path) -> TfliteModel:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"model file {p} does not exist: pass --model PATH to a .tflite file")
        return cls(p.read_bytes(), str(p))

    @cached_property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @cached_property
    def tensors(self) -> tuple[TensorInfo, ...]:
        out = []
        for i, t in enumerate(self._m.subgraphs[0].tensors):
            q = t.quantization
            scales = [] if q is None or q.scale is None else list(q.scale)
            zps = [] if q is None or q.zeroPoint is None else list(q.zeroPoint)
            shape = tuple(int(d) for d in (t.shape if t.shape is not None else ()))
            if t.type not in SCHEMA_DTYPES:
                raise ConfigError(
                    f"{self.source}: tensor {i} has TFLite type {t.type}, not supported"
                )
            out.append(
                TensorInfo(
                    index=i,
                    name=(t.name or b"").decode(errors="replace"),
                    shape=shape,
                    dtype=SCHEMA_DTYPES[t.type],
                    scale=float(scales[0]) if scales else 0.0,
                    zero_point=int(zps[0]) if zps else 0,
                    per_channel=len(scales) > 1,
                )
            )
        return tuple(out)

    @property
    def inputs(self) -> tuple[TensorInfo, ...]:
        return tuple(self.tensors[i] for i in self._m.subgraphs[0].inputs)

    @property
    def outputs(self) -> tuple[TensorInfo, ...]:
        return tuple(self.tensors[i] for i in self._m.subgraphs[0].outputs)

    @cached_property
    def ops(self) -> tuple[OpInfo, ...]:
        ops = []
        for sg in self._m.subgraphs:
            for op in sg.operators or []:
                code = self._m.operatorCodes[op.opcodeIndex]
                builtin = max(code.builtinCode, code.deprecatedBuiltinCode)
                if builtin == schema.BuiltinOperator.CUSTOM:
                    name = (code.customCode or b"CUSTOM").decode(errors="replace")
                else:
                    name = BUILTIN_NAMES.get(builtin, f"BUILTIN_{builtin}")
                ins = tuple(int(i) for i in op.inputs)
                outs = tuple(int(i) for i in op.outputs)
                ops.append(OpInfo(name, int(code.version), ins, outs, self._macs(name, ins, outs)))
        return tuple(ops)

    @property
    def op_names(self) -> list[str]:
        """The distinct operators, in first-use order: what an op resolver must hold."""
        return list(dict.fromkeys(op.name for op in self.ops))

    @property
    def op_versions(self) -> dict[str, int]:
        versions: dict[str, int] = {}
        for op in self.ops:
            versions[op.name] = max(versions.get(op.name, 0), op.version)
        return versions

    @property
    def macs(self) -> int:
        return sum(op.macs for op in self.ops)

    @property
    def is_quantized(self) -> bool:
        return all(t.dtype != np.float32 for t in (*self.inputs, *self.outputs))

    def _macs(self, name: str, ins: tuple[int, ...], outs: tuple[int, ...]) -> int:
        t = self.tensors
        if not outs or outs[0] < 0:
            return 0
        out_elems = int(np.prod(t[outs[0]].shape, dtype=np.int64))
        if name == "CONV_2D" and len(ins) > 1:  # filter: [out_c, kh, kw, in_c]
            _, kh, kw, in_c = t[ins[1]].shape
            return out_elems * kh * kw * in_c
        if name == "DEPTHWISE_CONV_2D" and len(ins) > 1:  # filter: [1, kh, kw, out_c]
            _, kh, kw, _ = t[ins[1]].shape
            return out_elems * kh * kw
        if name == "FULLY_CONNECTED" and len(ins) > 1:  # weights: [units, depth]
            return out_elems * t[ins[1]].shape[-1]
        return 0
