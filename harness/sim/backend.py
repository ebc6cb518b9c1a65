"""The twin's backend: the TFLM host runtime (harness/tflite/runtime.py) behind the core's
interface, with the tensor buffers the C core reads and writes."""

from __future__ import annotations

import ctypes
from collections.abc import Callable

import numpy as np

from ..protocol.constants import MAX_DIMS
from ..protocol.messages import TFLITE_TYPE_CODES
from ..tflite.model import TensorInfo, TfliteModel
from ..tflite.runtime import HostRejected, HostTflm
from .corelib import TensorC


class _Buffer:
    def __init__(self, info: TensorInfo):
        self.info = info
        self.mem = (ctypes.c_uint8 * max(info.nbytes, 1))()
        self.struct = TensorC()
        self.struct.dtype = TFLITE_TYPE_CODES[info.dtype]
        self.struct.ndims = min(len(info.shape), MAX_DIMS)
        for i, d in enumerate(info.shape[:MAX_DIMS]):
            self.struct.dims[i] = d
        self.struct.scale = info.scale
        self.struct.zero_point = info.zero_point
        self.struct.bytes = info.nbytes
        self.struct.data = ctypes.cast(self.mem, ctypes.POINTER(ctypes.c_uint8))

    def array(self) -> np.ndarray:
        return np.frombuffer(
            memoryview(self.mem), dtype=self.info.dtype, count=int(np.prod(self.info.shape))
        )

    def store(self, values: np.ndarray) -> None:
        raw = np.ascontiguousarray(values, dtype=self.info.dtype).tobytes()
        ctypes.memmove(self.mem, raw, len(raw))


class TflmBackend:
    """A TFLM host runtime with the device's arena, and the tensor buffers the core writes."""

    def __init__(
        self,
        model: TfliteModel,
        arena_size: int,
        on_invoke: Callable[[], None] = lambda: None,
        op_cycles: list[tuple[str, int]] | None = None,
    ):
        """``op_cycles``: what each operator costs, reported as the last invoke's profile (the
        host runtime has no per-operator clock of the board's)."""
        self.model = model
        self._op_cycles = op_cycles or []
        self._profile: list[tuple[str, int]] = []
        self.arena_size = arena_size
        self._on_invoke = on_invoke
        self._error = ""
        self._arena_used = 0
        self.inputs = [_Buffer(t) for t in model.inputs]
        self.outputs = [_Buffer(t) for t in model.outputs]
        self.host: HostTflm | None = None
        self._init_error: str | None = None
        try:
            self.host = HostTflm(model, arena_size)
        except HostRejected as exc:
            self._init_error = exc.reason
            return
        # TFLM plans the arena at the first invoke; run one so arena_used is known at HELLO.
        if self._invoke_host() != 0:
            self._init_error = self._error
            return
        self._arena_used = self.host.arena_used()

    def init_error(self) -> str | None:
        return self._init_error

    def tensor_count(self, output: bool) -> int:
        return len(self.outputs if output else self.inputs)

    def tensor(self, output: bool, index: int) -> TensorC:
        return (self.outputs if output else self.inputs)[index].struct

    def invoke(self) -> int:
        self._on_invoke()
        rc = self._invoke_host()
        self._profile = self._op_cycles if rc == 0 else []
        return rc

    def op_profile(self) -> list[tuple[str, int]]:
        return self._profile

    def _invoke_host(self) -> int:
        assert self.host is not None
        try:
            self.host.set_inputs([buf.array().reshape(buf.info.shape) for buf in self.inputs])
            error = self.host.invoke()
            if error is not None:
                self._error = error
                return 1
            for i, buf in enumerate(self.outputs):
                buf.store(self.host.output(i))
        except Exception as exc:  # never let an exception cross the C boundary
            self._error = f"{type(exc).__name__}: {exc}"
            return 2
        return 0

    def last_error(self) -> str:
        return self._error

    def arena_used(self) -> int:
        return self._arena_used
