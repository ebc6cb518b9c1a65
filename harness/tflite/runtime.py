"""The TFLM host runtime (the ``tflite-micro`` wheel): the one wrapper every part goes through.

It runs the same reference kernels the firmware builds, so device outputs must match it bit
for bit. TFLM gives its reasons on the C-level stderr, not in its exceptions: they are
captured here and carried by the error (``HostRejected.reason``) or returned by ``invoke``.
The wheel is heavy: it is imported when a runtime is first made.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from ..capture import call_capturing_stderr
from ..errors import ModelRejected
from .model import TfliteModel

HOST_ARENA = 64 << 20  # the host has room: never let the reference fail for arena size
ARENA_TOTAL = re.compile(r"Arena allocation total (\d+) bytes")


class HostRejected(ModelRejected):
    """The runtime refused the model. ``reason``: TFLM's own first lines (what a device says in
    its handshake); ``log``: everything it printed (for a caller that keeps the runtime's log)."""

    def __init__(self, message: str, reason: str, log: str):
        super().__init__(message)
        self.reason = reason
        self.log = log


class HostTflm:
    """One TFLM host interpreter with a fixed arena."""

    def __init__(self, model: TfliteModel, arena: int = HOST_ARENA):
        """Raises ``HostRejected`` for a model the runtime refuses (an op, its version, the
        arena too small)."""
        from tflite_micro.python.tflite_micro import runtime

        self.model = model
        interp, log, exc = call_capturing_stderr(
            lambda: runtime.Interpreter.from_bytes(model.data, arena_size=arena)
        )
        if exc is not None or interp is None:
            reason = first_lines(log) or f"{type(exc).__name__}: {exc}"
            raise HostRejected(
                f"the TFLM host runtime rejected {model.source}: {reason}", reason, log
            ) from exc
        self._interp = interp

    def set_inputs(self, inputs: Sequence[np.ndarray]) -> None:
        for k, x in enumerate(inputs):
            self._interp.set_input(x, k)

    def invoke(self) -> str | None:
        """Runs the model once: None, or TFLM's reason for failing."""
        _, log, exc = call_capturing_stderr(self._interp.invoke)
        return None if exc is None else first_lines(log) or f"{type(exc).__name__}: {exc}"

    def output(self, index: int) -> np.ndarray:
        return np.asarray(self._interp.get_output(index))

    def arena_used(self) -> int:
        """Bytes of arena TFLM used (planned at the first invoke), read from its allocation
        report: the Python interpreter has no getter for it."""
        _, text, _ = call_capturing_stderr(self._interp.print_allocations)
        match = ARENA_TOTAL.search(text)
        return int(match.group(1)) if match else 0

    def run(self, inputs: tuple[np.ndarray, ...]) -> list[np.ndarray]:
        """Runs every vector; returns one (N, *shape) array per output. A failing invoke raises
        the runtime's own exception, its words on the stderr of the caller."""
        n = inputs[0].shape[0]
        outs: list[list[np.ndarray]] = [[] for _ in self.model.outputs]
        for i in range(n):
            self.set_inputs([x[i] for x in inputs])
            self._interp.invoke()
            for k in range(len(outs)):
                outs[k].append(np.array(self._interp.get_output(k)))
        return [np.stack(o) for o in outs]


def version() -> str:
    """The installed runtime, as a device names its TFLM in the handshake."""
    try:
        from tflite_micro.python.tflite_micro import _version
    except ImportError:
        return "tflite-micro"
    return f"tflite-micro {_version.__version__}"


def first_lines(log: str) -> str:
    """TFLM's reason: the first three non-empty lines of what it printed, at most 200 chars."""
    lines = [ln.strip() for ln in log.splitlines() if ln.strip()]
    return "; ".join(lines[:3])[:200]
