"""Gates: bounds on figures, declared as data, judged with a message that names the figure,
its value, the bound and where the bound came from. One model and one TOML layout for the HIL
suite's gates (harness/data/gates.toml, a model's gates file, --gates), the promotion rules
(harness/apps/registry/rules.toml, --rules) and the matrix's axes file:

    [gates]
    vectors_differing_vs_host = { max = 0 }        # an exact figure name
    "top1_agreement_vs_float*" = { min = 0.95 }    # an fnmatch pattern (a quoted key)

Bounds are inclusive and exact (min <= value <= max). A figure is judged by the one gate that
applies to it: its exact name, else the first pattern that matches (a user's before the
defaults). A gate no figure meets is "not measured": never a pass, never a failure.

A HIL gate is only as good as its metric's name: a gate on a name no code produces would never
be judged, so such a name is refused, naming the nearest known one."""

from __future__ import annotations

import difflib
import fnmatch
import re
import tomllib
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from ..errors import ConfigError


@dataclass(frozen=True)
class Gate:
    metric: str  # a figure's name, or an fnmatch pattern of names
    min: float | None = None
    max: float | None = None
    source: str = ""  # the file it came from, or which defaults

    def matches(self, name: str) -> bool:
        return name == self.metric or fnmatch.fnmatchcase(name, self.metric)

    def judge(self, value: float | None, name: str = "") -> GateResult:
        """``name``: the figure judged, when the gate is a pattern (default: the gate's key)."""
        if value is None:
            return GateResult(self, None, None, name)
        ok = (self.min is None or value >= self.min) and (self.max is None or value <= self.max)
        return GateResult(self, value, ok, name)

    @property
    def condition(self) -> str:
        parts = [
            f">= {self.min:g}" if self.min is not None else "",
            f"<= {self.max:g}" if self.max is not None else "",
        ]
        return " and ".join(p for p in parts if p)


@dataclass(frozen=True)
class GateResult:
    gate: Gate
    value: float | None
    passed: bool | None  # None: the metric was not measured
    name: str = ""  # the figure, when the gate is a pattern

    def message(self) -> str:
        g = self.gate
        name = self.name or g.metric
        if self.value is None:
            return f"{name}: not measured (gate {g.condition} from {g.source})"
        verdict = "passes" if self.passed else "FAILS"
        return f"{name} = {self.value:.6g} {verdict} the gate {g.condition} (from {g.source})"


@dataclass(frozen=True)
class GateSet:
    """Gates in the order they are tried: a user's before the defaults'."""

    gates: tuple[Gate, ...]

    def gate_for(self, name: str) -> Gate | None:
        """The gate that judges figure ``name``: its exact key, else the first pattern."""
        exact = next((g for g in self.gates if g.metric == name), None)
        return exact or next((g for g in self.gates if g.matches(name)), None)

    def judge(self, figures: Mapping[str, float]) -> list[GateResult]:
        """Each figure by the gate that applies to it, in name order, then each gate that
        applies to no figure, as not measured."""
        results = []
        for name in sorted(figures):
            gate = self.gate_for(name)
            if gate is not None:
                results.append(gate.judge(figures[name], name))
        used = {r.gate for r in results}
        return results + [GateResult(g, None, None) for g in self.gates if g not in used]


def parse_gates(table: dict, source: str) -> dict[str, Gate]:
    """The ``[gates]`` table of a parsed TOML document, checked; ``source`` names it in errors."""
    gates = {}
    for metric, spec in table.get("gates", {}).items():
        if not isinstance(spec, dict) or not set(spec) <= {"min", "max"} or not spec:
            raise ConfigError(
                f"{source}: gate {metric!r} must be {{ min = X }} and/or {{ max = X }}, "
                f"got {spec!r}"
            )
        try:
            lo = float(spec["min"]) if "min" in spec else None
            hi = float(spec["max"]) if "max" in spec else None
        except (TypeError, ValueError):
            raise ConfigError(f"{source}: gate {metric!r} needs numbers, got {spec!r}") from None
        gates[metric] = Gate(metric, lo, hi, source)
    return gates


_OUTPUT_INDEX = re.compile(r"\[[1-9][0-9]*\]$")  # "rmse_vs_float[1]": output 1


def check_metric_names(gates: Mapping[str, Gate], known: Collection[str]) -> None:
    """Raises ConfigError for the first gate whose metric is not in ``known`` (the names the
    code can produce; a per-output metric may carry ``[k]``), naming the nearest known one."""
    for name, gate in gates.items():
        base = _OUTPUT_INDEX.sub("", name) if "_vs_" in name else name
        if base in known:
            continue
        near = difflib.get_close_matches(base, sorted(known), n=1)
        hint = f"did you mean {near[0]!r}?" if near else "see docs/validation.md for the metrics"
        raise ConfigError(
            f"{gate.source}: gate {name!r} names a metric that is never measured, so it could "
            f"never fail: {hint}"
        )


def gates_file_for(model: Path) -> Path | None:
    for candidate in (model.with_suffix(".gates.toml"), model.parent / "gates.toml"):
        if candidate.is_file():
            return candidate
    return None


def load_gates(
    model: Path | None = None,
    explicit: Path | None = None,
    *,
    known: Collection[str] | None = None,
) -> dict[str, Gate]:
    """Defaults, overridden by the model's gates file (or an explicit one); with ``known``,
    every gate's metric must be one of those names (``check_metric_names``)."""
    text = resources.files("harness").joinpath("data/gates.toml").read_text()
    gates = parse_gates(tomllib.loads(text), "tflm-hil defaults")
    path = explicit or (gates_file_for(model) if model else None)
    if path is not None:
        if not path.is_file():
            raise ConfigError(f"gates file {path} does not exist: check --gates")
        try:
            table = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"gates file {path} is not valid TOML: {exc}") from exc
        if set(table) - {"gates"}:  # a misspelt [gates] table would disable every gate in it
            raise ConfigError(
                f"gates file {path}: {', '.join(sorted(set(table) - {'gates'}))} is not a "
                "table here: put the gates under [gates]"
            )
        gates.update(parse_gates(table, str(path)))
    if known is not None:
        check_metric_names(gates, known)
    return gates
