"""The twin's backend: the TFLM host runtime (``tflite-micro``) behind the core's interface."""

from __future__ import annotations

import ctypes
import os
import re
import tempfile
from collections.abc import Callable
from typing import TypeVar

import numpy as np
from tflite_micro.python.tflite_micro import runtime

from ..model.tflite_info import TensorInfo, TfliteModel
from ..protocol.constants import MAX_DIMS
from ..protocol.messages import TFLITE_TYPE_CODES
from .corelib import TensorC

T = TypeVar("T")
ARENA_TOTAL = re.compile(r"Arena allocation total (\d+) bytes")


def capture_stderr(fn: Callable[[], T]) -> tuple[T | None, str, BaseException | None]:
    """Runs fn with the C-level stderr captured: TFLM reports through it, not through Python."""
    with tempfile.TemporaryFile() as tmp:
        saved = os.dup(2)
        os.dup2(tmp.fileno(), 2)
        result, error = None, None
        try:
            result = fn()
        except Exception as exc:  # the runtime raises RuntimeError/ValueError for bad models
            error = exc
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        tmp.seek(0)
        return result, tmp.read().decode("utf-8", "replace"), error


def measure_arena(interpreter: runtime.Interpreter) -> int:
    """Bytes of arena TFLM used: read from its allocation report (no getter exists in Python)."""
    _, text, _ = capture_stderr(interpreter.print_allocations)
    match = ARENA_TOTAL.search(text)
    return int(match.group(1)) if match else 0


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
    """Owns a TFLM host interpreter with a fixed arena and the tensor buffers the core writes."""

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
        interp, log, exc = capture_stderr(
            lambda: runtime.Interpreter.from_bytes(model.data, arena_size=arena_size)
        )
        self.interpreter = interp
        self._init_error: str | None = None
        if exc is not None or interp is None:
            self._init_error = _first_line(log) or f"{type(exc).__name__}: {exc}"
            return
        # TFLM plans the arena at the first invoke; run one so arena_used is known at HELLO.
        rc = self._invoke_interpreter()
        if rc != 0:
            self._init_error = self._error
            return
        self._arena_used = measure_arena(interp)

    def init_error(self) -> str | None:
        return self._init_error

    def tensor_count(self, output: bool) -> int:
        return len(self.outputs if output else self.inputs)

    def tensor(self, output: bool, index: int) -> TensorC:
        return (self.outputs if output else self.inputs)[index].struct

    def invoke(self) -> int:
        self._on_invoke()
        rc = self._invoke_interpreter()
        self._profile = self._op_cycles if rc == 0 else []
        return rc

    def op_profile(self) -> list[tuple[str, int]]:
        return self._profile

    def _invoke_interpreter(self) -> int:
        assert self.interpreter is not None
        try:
            for i, buf in enumerate(self.inputs):
                self.interpreter.set_input(buf.array().reshape(buf.info.shape), i)
            _, log, exc = capture_stderr(self.interpreter.invoke)
            if exc is not None:
                self._error = _first_line(log) or str(exc)
                return 1
            for i, buf in enumerate(self.outputs):
                buf.store(self.interpreter.get_output(i))
        except Exception as exc:  # never let an exception cross the C boundary
            self._error = f"{type(exc).__name__}: {exc}"
            return 2
        return 0

    def last_error(self) -> str:
        return self._error

    def arena_used(self) -> int:
        return self._arena_used


def _first_line(log: str) -> str:
    lines = [ln.strip() for ln in log.splitlines() if ln.strip()]
    return "; ".join(lines[:3])[:200]
