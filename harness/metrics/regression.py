"""Regression thresholds: how far a figure may move against a baseline, read from TOML tables
``[<key>."PATTERN"]`` (``[regression.*]`` in the promotion rules, ``[watch.*]`` in the
monitor's thresholds).

The same ``Threshold`` serves promotion (candidate vs the promoted model) and monitoring
(latest run vs the promoted baseline and the recent trend; harness/apps/monitor). Figures of
two provenances (measured, emulated, estimated) are never compared, nor latency figures of
images of two float ABIs (their handshakes' core version: docs/firmware.md).
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import Any

from ..provenance import Figure
from ..tomlio import check_keys

EPS = 1e-12  # figures equal but for rounding are unchanged


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
class FigureChange:
    """A figure against its baseline."""

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
) -> FigureChange:
    """``abis``: the float ABIs of the old and the new image (their handshakes' core version):
    timing figures of two ABIs are not compared, software float calls make every float kernel
    slower (docs/firmware.md)."""
    if old.provenance != new.provenance:
        why = f"{new.provenance} vs {old.provenance} figures are never mixed"
        return FigureChange(name, old, new, th, 0.0, None, False, comparable=False, why=why)
    if abis[0] != abis[1] and name.startswith("latency_"):
        why = f"float ABI {abis[1] or 'unknown'} vs {abis[0] or 'unknown'}: never mixed"
        return FigureChange(name, old, new, th, 0.0, None, False, comparable=False, why=why)
    worse = (old.value - new.value) if th.better == "higher" else (new.value - old.value)
    pct = 100.0 * worse / abs(old.value) if abs(old.value) > EPS else None
    if th.better == "higher":
        limits = (th.max_drop, th.max_drop_pct)
    else:
        limits = (th.max_rise, th.max_rise_pct)
    regressed = (limits[0] is not None and worse > limits[0] + EPS) or (
        limits[1] is not None and pct is not None and pct > limits[1] + EPS
    )
    return FigureChange(name, old, new, th, worse, pct, regressed)


def threshold_for(thresholds: tuple[Threshold, ...], name: str) -> Threshold | None:
    """The threshold of figure ``name``: its exact key, else the first pattern that matches."""
    exact = next((t for t in thresholds if t.pattern == name), None)
    return exact or next((t for t in thresholds if fnmatch.fnmatchcase(name, t.pattern)), None)


LIMITS = {"higher": ("max_drop", "max_drop_pct"), "lower": ("max_rise", "max_rise_pct")}


def parse_thresholds(table: Any, key: str) -> tuple[Threshold, ...]:
    """The ``[<key>.NAME]`` tables. A setting that would be ignored (a misspelt key, max_rise
    on a "higher" figure) is refused with ValueError, not dropped."""
    thresholds = []
    for k, v in (table or {}).items():
        where = f"[{key}.{k}]"
        better = v.get("better") if isinstance(v, dict) else None
        if better not in LIMITS:
            raise ValueError(f"{where} better must be 'higher' or 'lower'")
        check_keys(v, ("better", *LIMITS[better]), f"{where} (better = {better!r})")
        thresholds.append(Threshold(str(k), better, _opt(v, "max_drop"), _opt(v, "max_rise"),
                                    _opt(v, "max_drop_pct"), _opt(v, "max_rise_pct")))
    return tuple(thresholds)


def _opt(d: dict[str, Any], key: str) -> float | None:
    return None if d.get(key) is None else float(d[key])
