"""The twin's latency: each layer's instructions (the family's constants, fitted on the
emulated board's counts) times the CPU's cycles per instruction (fitted on published figures).

The constant part of each call (``per_op``) and Invoke()'s own instructions are interpreter
work (dispatch, parameter setup) and take the ``overhead`` CPI; the rest is kernel work on
data and takes the ``compute`` CPI, or the family's own where a calibration pins it.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..tflite.model import TfliteModel
from .layers import Layer, layers
from .table import CostTable, cost_table


@dataclass(frozen=True)
class LayerEstimate:
    layer: Layer
    overhead: float  # instructions of the call itself
    compute: float  # instructions on data
    cycles: float

    @property
    def instructions(self) -> float:
        return self.overhead + self.compute


@dataclass(frozen=True)
class Estimate:
    cpu: str
    layers: tuple[LayerEstimate, ...]
    invoke_instructions: float
    invoke_cycles: float
    band: tuple[float, float] | None  # factors on the totals; None: no measured spread

    @property
    def cycles(self) -> float:
        return self.invoke_cycles + sum(x.cycles for x in self.layers)

    @property
    def instructions(self) -> float:
        return self.invoke_instructions + sum(x.instructions for x in self.layers)

    def groups(self) -> dict[str, float]:
        """Instructions per CPI group: what the CPI fit multiplies."""
        return {
            "compute": sum(x.compute for x in self.layers),
            "overhead": self.invoke_instructions + sum(x.overhead for x in self.layers),
        }

    def cycles_band(self) -> tuple[float, float] | None:
        if self.band is None:
            return None
        return self.cycles * self.band[0], self.cycles * self.band[1]

    def band_us(self, clock_hz: float) -> tuple[float, float] | None:
        """Where the board's latency is expected, in µs at ``clock_hz``; None: no spread."""
        band = self.cycles_band()
        return None if band is None else (band[0] * 1e6 / clock_hz, band[1] * 1e6 / clock_hz)


def layer_instructions(layer: Layer, table: CostTable) -> tuple[float, float]:
    """(overhead, compute) instructions of one layer on the emulated board's library."""
    coef = table.families.get(layer.family) or table.families["elementwise"]
    feats = layer.features()
    compute = sum(v * feats[k] for k, v in coef.items() if k != "per_op")
    return coef.get("per_op", 0.0), compute


def estimate(
    model: TfliteModel, cpu: str, *, board: str | None = None, table: CostTable | None = None
) -> Estimate:
    """The estimate of one invoke of ``model`` on ``cpu`` (a board id adds its memory factor)."""
    table = table or cost_table()
    cpi = table.cpu(cpu)
    factor = table.boards[board].factor if board in table.boards else 1.0
    out = []
    for layer in layers(model):
        overhead, compute = layer_instructions(layer, table)
        cycles = (overhead * cpi.groups["overhead"] + compute * cpi.compute(layer.family)) * factor
        out.append(LayerEstimate(layer, overhead, compute, cycles))
    invoke = table.invoke + table.invoke_per_op * len(out)
    invoke_cycles = invoke * cpi.groups["overhead"] * factor
    return Estimate(cpu, tuple(out), invoke, invoke_cycles, cpi.band)
