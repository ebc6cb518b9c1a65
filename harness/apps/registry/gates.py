"""Gates and regression thresholds, read from TOML (gates.toml beside this file by default).

The same ``Threshold`` serves promotion (candidate vs the promoted model) and monitoring
(latest run vs the promoted baseline and the recent trend; harness/apps/monitor).
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...errors import ConfigError
from ...provenance import Figure
from ...results.store import ResultsStore
from ...tomlio import check_keys, overlay, packaged_toml, read_toml

EPS = 1e-12


def run_figures(store: ResultsStore, run_id: int) -> dict[str, Figure]:
    """Every figure of a run by name (a name recorded twice keeps its last value)."""
    return {m.name: Figure(m.value, m.unit, m.provenance) for m in store.metrics(run_id=run_id)}


@dataclass(frozen=True)
class Gate:
    pattern: str
    min: float | None = None
    max: float | None = None

    def check(self, name: str, fig: Figure) -> str | None:
        if self.min is not None and fig.value < self.min - EPS:
            return f"{name} = {fig.value:g} is below the gate's minimum {self.min:g}"
        if self.max is not None and fig.value > self.max + EPS:
            return f"{name} = {fig.value:g} is above the gate's maximum {self.max:g}"
        return None


@dataclass(frozen=True)
class Threshold:
    pattern: str
    better: str  # "higher" or "lower"
    max_drop: float | None = None
    max_rise: float | None = None
    max_drop_pct: float | None = None
    max_rise_pct: float | None = None

    def limit_text(self) -> str:
        if self.better == "higher":
            parts = [f"drop of {self.max_drop:g}" if self.max_drop is not None else "",
                     f"{self.max_drop_pct:g}% drop" if self.max_drop_pct is not None else ""]
        else:
            parts = [f"rise of {self.max_rise:g}" if self.max_rise is not None else "",
                     f"{self.max_rise_pct:g}% rise" if self.max_rise_pct is not None else ""]
        return " or ".join(p for p in parts if p) or "no limit"


@dataclass(frozen=True)
class Change:
    name: str
    old: Figure
    new: Figure
    threshold: Threshold
    worse_by: float  # how much worse (positive) or better (negative), in the figure's unit
    worse_pct: float | None
    regressed: bool
    comparable: bool = True
    why: str = ""  # why the figures are not comparable, when they are not

    def describe(self, against: str = "the promoted model") -> str:
        if not self.comparable:
            return f"{self.name}: not compared ({self.why})"
        unit = f" {self.new.unit}" if self.new.unit else ""
        old, new = self.old.value, self.new.value
        pct = f" ({100.0 * (new - old) / abs(old):+.1f}%)" if abs(old) > EPS else ""
        if self.worse_by > EPS:
            verdict = f"worse than {against}"
        elif self.worse_by < -EPS:
            verdict = f"better than {against}"
        else:
            verdict = f"the same as {against}"
        text = f"{self.name} {old:g} -> {new:g}{unit}{pct}: {verdict}"
        if self.regressed:
            text += f", beyond the allowed {self.threshold.limit_text()}"
        return text

    @property
    def changed(self) -> bool:
        return abs(self.worse_by) > EPS or not self.comparable


def compare(
    name: str, old: Figure, new: Figure, th: Threshold, abis: tuple[str, str] = ("", "")
) -> Change:
    """``abis``: the float ABIs of the old and the new image (their handshakes' core version):
    timing figures of two ABIs are not compared, software float calls make every float kernel
    slower (docs/firmware.md)."""
    if old.provenance != new.provenance:
        why = f"{new.provenance} vs {old.provenance} figures are never mixed"
        return Change(name, old, new, th, 0.0, None, False, comparable=False, why=why)
    if abis[0] != abis[1] and name.startswith("latency_"):
        why = f"float ABI {abis[1] or 'unknown'} vs {abis[0] or 'unknown'}: never mixed"
        return Change(name, old, new, th, 0.0, None, False, comparable=False, why=why)
    worse = (old.value - new.value) if th.better == "higher" else (new.value - old.value)
    pct = 100.0 * worse / abs(old.value) if abs(old.value) > EPS else None
    if th.better == "higher":
        limits = (th.max_drop, th.max_drop_pct)
    else:
        limits = (th.max_rise, th.max_rise_pct)
    regressed = (limits[0] is not None and worse > limits[0] + EPS) or (
        limits[1] is not None and pct is not None and pct > limits[1] + EPS
    )
    return Change(name, old, new, th, worse, pct, regressed)


@dataclass(frozen=True)
class Rules:
    gates: tuple[Gate, ...]
    thresholds: tuple[Threshold, ...]

    def gate_for(self, name: str) -> Gate | None:
        return _match(self.gates, name)

    def threshold_for(self, name: str) -> Threshold | None:
        return _match(self.thresholds, name)


def _match(items, name: str):
    for item in items:
        if item.pattern == name:
            return item
    for item in items:
        if fnmatch.fnmatchcase(name, item.pattern):
            return item
    return None


LIMITS = {"higher": ("max_drop", "max_drop_pct"), "lower": ("max_rise", "max_rise_pct")}


def parse_rules(raw: dict[str, Any], source: str, *, threshold_key: str = "regression") -> Rules:
    """Gates from ``[gate.NAME]``, thresholds from ``[<threshold_key>.NAME]``. A setting that
    would be ignored (a misspelt key, max_rise on a "higher" figure) is refused, not dropped."""
    try:
        gates = []
        for k, v in raw.get("gate", {}).items():
            check_keys(v, ("min", "max"), f"[gate.{k}]")
            gates.append(Gate(str(k), _opt(v, "min"), _opt(v, "max")))
        thresholds = []
        for k, v in raw.get(threshold_key, {}).items():
            where = f"[{threshold_key}.{k}]"
            better = v.get("better") if isinstance(v, dict) else None
            if better not in LIMITS:
                raise ValueError(f"{where} better must be 'higher' or 'lower'")
            check_keys(v, ("better", *LIMITS[better]), f"{where} (better = {better!r})")
            thresholds.append(Threshold(str(k), better, _opt(v, "max_drop"), _opt(v, "max_rise"),
                                        _opt(v, "max_drop_pct"), _opt(v, "max_rise_pct")))
    except (TypeError, ValueError, AttributeError) as exc:
        raise ConfigError(f"{source}: {exc}") from exc
    return Rules(tuple(gates), tuple(thresholds))


def _opt(d: dict[str, Any], key: str) -> float | None:
    return None if d.get(key) is None else float(d[key])


def load_rules(path: Path | None = None) -> Rules:
    """The default rules, with the sections of ``path`` (if given) laid over them."""
    raw = packaged_toml(__package__, "gates.toml")
    if path is not None:
        raw = overlay(raw, read_toml(path, "--rules"), str(path))
    return parse_rules(raw, str(path or "gates.toml"))
