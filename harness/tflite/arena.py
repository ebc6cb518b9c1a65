"""Sizing the tensor arena: measured on the host runtime, planned with a margin for the board."""

from __future__ import annotations

from .model import TfliteModel
from .runtime import HostRejected, HostTflm

# The host runtime is 64-bit (larger pointers in its bookkeeping) and has no CMSIS-NN scratch
# buffers; the margin covers the difference in either direction seen in practice.
ARENA_MARGIN = 1.10
ARENA_SLACK = 1024
ARENA_ALIGN = 16


def plan_arena(host_used: int) -> int:
    """Arena bytes to give the device for a model that used ``host_used`` on the host."""
    size = int(host_used * ARENA_MARGIN) + ARENA_SLACK
    return (size + ARENA_ALIGN - 1) // ARENA_ALIGN * ARENA_ALIGN


def measure_host_arena(model: TfliteModel, limit: int = 16 << 20) -> int:
    """Arena bytes the TFLM host runtime needs for this model (0 if it cannot run it)."""
    try:
        host = HostTflm(model, limit)
    except HostRejected:
        return 0
    # TFLM plans the arena at the first invoke (the inputs' values do not matter)
    return host.arena_used() if host.invoke() is None else 0
