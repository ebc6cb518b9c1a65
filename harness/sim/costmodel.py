"""Estimated cycles per inference, from the model's MACs and the CPU's cost table.

The simulated twin has no cycle counter: its clock advances by these estimates, and every
figure derived from them is labelled estimated (DeviceInfo.clock_estimated).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np

from ..errors import ConfigError
from ..model.tflite_info import TfliteModel


@dataclass(frozen=True)
class CpuCosts:
    op_overhead: float
    invoke_overhead: float
    mac: dict[str, float]
    element: dict[str, float]


@cache
def cpu_costs(cpu: str) -> CpuCosts:
    table = tomllib.loads(resources.files("harness").joinpath("data/cost_model.toml").read_text())
    try:
        entry = table["cpus"][cpu]
    except KeyError:
        raise ConfigError(
            f"no latency cost model for CPU {cpu!r}: "
            f"add [cpus.{cpu}] to harness/data/cost_model.toml"
        ) from None
    return CpuCosts(entry["op_overhead"], entry["invoke_overhead"], entry["mac"], entry["element"])


def _op_costs(model: TfliteModel, costs: CpuCosts) -> list[tuple[str, float]]:
    out_list = []
    for op in model.ops:
        out = model.tensors[op.outputs[0]] if op.outputs and op.outputs[0] >= 0 else None
        elems = int(np.prod(out.shape, dtype=np.int64)) if out is not None else 0
        cycles = costs.op_overhead + op.macs * costs.mac.get(op.name, 0.0)
        if op.name not in costs.mac:
            cycles += elems * costs.element.get(op.name, costs.element.get("default", 0.0))
        out_list.append((op.name, cycles))
    return out_list


def estimate_op_cycles(model: TfliteModel, cpu: str) -> list[tuple[str, int]]:
    """Estimated cycles of each operator, in execution order: the twin's per-operator profile."""
    return [(name, round(c)) for name, c in _op_costs(model, cpu_costs(cpu))]


def estimate_cycles(model: TfliteModel, cpu: str) -> dict[str, int]:
    """Estimated cycles per operator kind, plus ``total`` for one invoke."""
    costs = cpu_costs(cpu)
    per_op: dict[str, float] = {}
    for name, cycles in _op_costs(model, costs):
        per_op[name] = per_op.get(name, 0.0) + cycles
    result = {name: round(c) for name, c in per_op.items()}
    result["total"] = round(costs.invoke_overhead + sum(per_op.values()))
    return result
