"""Where a device figure comes from: the label every latency, size and cycle count carries,
and ``Figure``, a value with its unit and that label.

Figures of different provenance are never compared as if equal: benchmarks are named after
it, the results store keeps it beside every figure, and a regression check between two
labels is refused (harness/metrics/regression.py).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any


class Provenance(enum.StrEnum):
    # a real board: its cycle counter (DWT), the sizes of the linked ELF
    MEASURED = "measured"
    # the emulated board (QEMU): instructions counted at the board's nominal clock, one
    # instruction taken for one cycle; the sizes of the emulation image's ELF
    EMULATED = "emulated"
    # the simulated twin: its cost model's cycles, its planned sizes
    ESTIMATED = "estimated"

    @property
    def note(self) -> str:
        """How the figure was obtained, in a few words for reports."""
        return _NOTES[self]

    @property
    def mark(self) -> str:
        """The sign a table puts after a figure of this provenance (see ``LEGEND``)."""
        return _MARKS[self]


_NOTES = {
    Provenance.MEASURED: "measured on the board",
    Provenance.EMULATED: "emulated: instructions counted on QEMU at the board's clock",
    Provenance.ESTIMATED: "estimated by the twin's cost model",
}
_MARKS = {Provenance.MEASURED: "", Provenance.EMULATED: "*", Provenance.ESTIMATED: "~"}
LEGEND = (
    "~ estimated by the simulated twin's cost model; * emulated (instructions counted on QEMU "
    "at the board's clock): neither is a measurement"
)


@dataclass(frozen=True)
class Figure:
    """A value with its unit and provenance, as the registry and the monitor compare it."""

    value: float
    unit: str = ""
    provenance: Provenance = Provenance.MEASURED

    def __str__(self) -> str:
        """The value with its unit: ``1900 us``."""
        return f"{self.value:g}" + (f" {self.unit}" if self.unit else "")

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "unit": self.unit, "provenance": str(self.provenance)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Figure:
        # records written before provenance had a flag: true for the twin's estimates
        old = Provenance.ESTIMATED if d.get("estimated") else Provenance.MEASURED
        return cls(float(d["value"]), str(d.get("unit", "")), Provenance(d.get("provenance", old)))
