"""The promotion rules: gates the candidate's figures must pass and how far each may regress
against the promoted model (rules.toml beside this file, overridden with --rules FILE in the
same layout)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...errors import ConfigError
from ...metrics.gates import Gate, GateSet, parse_gates
from ...metrics.regression import Threshold, parse_thresholds, threshold_for
from ...tomlio import overlay, packaged_toml, read_toml

DEFAULTS_SOURCE = "tflm-hil promotion defaults"
# the layout before issue 10 ([gate."NAME"] tables), named in its refusal
OLD_GATE_TABLE = "the [gate.NAME] tables are now entries of [gates] (docs/maintenance.md)"


@dataclass(frozen=True)
class Rules:
    gates: GateSet
    thresholds: tuple[Threshold, ...]

    def gate_for(self, name: str) -> Gate | None:
        return self.gates.gate_for(name)

    def threshold_for(self, name: str) -> Threshold | None:
        return threshold_for(self.thresholds, name)


def parse_rules(raw: dict[str, Any], source: str) -> Rules:
    """Gates from ``[gates]``, thresholds from ``[regression.NAME]``; a gate keeps the file it
    came from (a user's entry, laid over the defaults by ``load_rules``, names the user's)."""
    try:
        thresholds = parse_thresholds(raw.get("regression"), "regression")
    except (TypeError, ValueError, AttributeError) as exc:
        raise ConfigError(f"{source}: {exc}") from exc
    return Rules(GateSet(tuple(parse_gates(raw, source).values())), thresholds)


def load_rules(path: Path | None = None) -> Rules:
    """The default rules, with the tables of ``path`` (if given) laid over them: its gates are
    tried before the defaults' and replace those of the same key."""
    raw = packaged_toml(__package__, "rules.toml")
    defaults = parse_rules(raw, DEFAULTS_SOURCE)
    if path is None:
        return defaults
    user = read_toml(path, "--rules")
    try:
        merged = overlay(raw, user, str(path))
    except ConfigError as exc:
        raise ConfigError(f"{exc}; {OLD_GATE_TABLE}" if "gate" in user else str(exc)) from None
    mine = parse_rules({"gates": user.get("gates", {}), "regression": merged["regression"]},
                       str(path))
    keys = {g.metric for g in mine.gates.gates}
    kept = tuple(g for g in defaults.gates.gates if g.metric not in keys)
    return Rules(GateSet(mine.gates.gates + kept), mine.thresholds)
