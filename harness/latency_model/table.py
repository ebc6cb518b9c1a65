"""The cost model's constants, read from ``harness/data/cost_model.toml``: instructions per
kernel family (counted on the emulated board), cycles per instruction per CPU (calibrated on
published on-device figures), and per-board memory facts. Every entry names its source."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from ..errors import ConfigError
from ..tomlio import packaged_toml
from .fit import FEATURES, GROUPS

DATA = "data/cost_model.toml"


@dataclass(frozen=True)
class CpuCpi:
    """Cycles per emulated Cortex-M4 instruction on one CPU, per group (and family overrides)."""

    cpu: str
    groups: dict[str, float]
    families: dict[str, float]  # compute CPI of a family, where a calibration pins it
    band: tuple[float, float] | None  # estimate x band: the calibration's spread; None: none
    pairs: tuple[str, ...]
    source: str

    def compute(self, family: str) -> float:
        return self.families.get(family, self.groups["compute"])


@dataclass(frozen=True)
class BoardMemory:
    board: str
    factor: float  # cycles x factor: memory slower (>1) or faster than the calibration boards
    flash_wait_states: str
    source: str


@dataclass(frozen=True)
class CostTable:
    library: str
    invoke: float  # instructions of Invoke() outside every operator: this + per operator
    invoke_per_op: float
    families: dict[str, dict[str, float]]
    cpus: dict[str, CpuCpi]
    boards: dict[str, BoardMemory]
    source: str

    def cpu(self, cpu: str) -> CpuCpi:
        try:
            return self.cpus[cpu]
        except KeyError:
            raise ConfigError(
                f"no latency cost model for CPU {cpu!r}: add [cpus.{cpu}] to harness/{DATA} "
                "(docs/latency.md: recalibrating for a new board)"
            ) from None


def _sourced(where: str, entry: dict) -> str:
    source = str(entry.get("source", "")).strip()
    if not source:
        raise ConfigError(f"harness/{DATA}: [{where}] names no source: every constant must")
    return source


def parse_table(doc: dict) -> CostTable:
    ins = doc["instructions"]
    families = {}
    for name, coef in ins["families"].items():
        if name not in FEATURES or set(coef) - set(FEATURES[name]):
            raise ConfigError(f"harness/{DATA}: unknown family or feature in [{name}]: {coef}")
        families[name] = {k: float(v) for k, v in coef.items()}
    cpus = {}
    for cpu, e in doc["cpus"].items():
        groups = {g: float(e[g]) for g in GROUPS}
        band = tuple(e["band"]) if "band" in e else None
        cpus[cpu] = CpuCpi(
            cpu, groups, {k: float(v) for k, v in e.get("families", {}).items()},
            (float(band[0]), float(band[1])) if band else None, tuple(e.get("pairs", ())),
            _sourced(f"cpus.{cpu}", e),
        )  # fmt: skip
    boards = {
        b: BoardMemory(b, float(e["factor"]), e["flash_wait_states"], _sourced(f"boards.{b}", e))
        for b, e in doc.get("boards", {}).items()
    }
    return CostTable(
        ins["library"],
        float(ins["invoke"]),
        float(ins["invoke_per_op"]),
        families,
        cpus,
        boards,
        _sourced("instructions", ins),
    )


@cache
def cost_table() -> CostTable:
    return parse_table(packaged_toml("harness", DATA))
