"""Estimated cycles per inference for the twin, from the latency cost model
(``harness.latency_model``: instructions per kernel family counted on the emulated board, times
cycles per instruction calibrated on published on-device figures; docs/latency.md).

The simulated twin has no cycle counter: its clock advances by these estimates, and every
figure derived from them is labelled estimated (DeviceInfo.clock_estimated).
"""

from __future__ import annotations

from ..latency_model.estimate import estimate
from ..tflite.model import TfliteModel


def estimate_op_cycles(model: TfliteModel, cpu: str) -> list[tuple[str, int]]:
    """Estimated cycles of each operator, in execution order: the twin's per-operator profile."""
    return [(x.layer.op, round(x.cycles)) for x in estimate(model, cpu).layers]


def estimate_cycles(model: TfliteModel, cpu: str) -> dict[str, int]:
    """Estimated cycles per operator kind, plus ``total`` for one invoke."""
    est = estimate(model, cpu)
    per_op: dict[str, float] = {}
    for x in est.layers:
        per_op[x.layer.op] = per_op.get(x.layer.op, 0.0) + x.cycles
    result = {name: round(c) for name, c in per_op.items()}
    result["total"] = round(est.cycles)
    return result
