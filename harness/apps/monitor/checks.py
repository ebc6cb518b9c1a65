"""The checks: the latest run per board against the promoted baseline and the recent trend."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...errors import EXIT_INFRA, ConfigError
from ...metrics.regression import FigureChange, Threshold, compare, parse_thresholds, threshold_for
from ...protocol.messages import float_abi_of
from ...provenance import Figure
from ...results.store import ResultsStore, run_figures
from ...tomlio import check_keys, overlay, packaged_toml, read_toml
from ..registry.store import Registry


@dataclass(frozen=True)
class MonitorConfig:
    thresholds: tuple[Threshold, ...]
    window: int
    alert_on_infra: bool
    field_max_drop: float
    alert_command: str | None
    alert_webhook: str | None


def load_config(path: Path | None = None) -> MonitorConfig:
    raw = packaged_toml(__package__, "thresholds.toml")
    if path is not None:
        raw = overlay(raw, read_toml(path, "--config"), str(path))
    source = str(path or "thresholds.toml")
    try:
        thresholds = parse_thresholds(raw["watch"], "watch")
        for table, keys in (("health", ("alert_on_infra",)), ("field", ("max_drop",)),
                            ("alert", ("command", "webhook"))):
            check_keys(raw[table], keys, f"[{table}]")
    except (TypeError, ValueError, AttributeError) as exc:
        raise ConfigError(f"{source}: {exc}") from exc
    alert_on_infra = raw["health"]["alert_on_infra"]  # the defaults' tables stay under overlay
    if not isinstance(alert_on_infra, bool):
        raise ConfigError(f"{source}: [health] alert_on_infra = {alert_on_infra!r} must be true "
                          "or false")
    return MonitorConfig(
        thresholds=thresholds, window=max(1, _number(int, raw["window"], "window", source)),
        alert_on_infra=alert_on_infra,
        field_max_drop=_number(float, raw["field"]["max_drop"], "[field] max_drop", source),
        alert_command=raw["alert"].get("command"), alert_webhook=raw["alert"].get("webhook"),
    )


def _number(kind: type[int] | type[float], value: Any, name: str, source: str) -> Any:
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{source}: {name} = {value!r} is not a "
                          f"{'whole number' if kind is int else 'number'}") from None


@dataclass(frozen=True)
class RunFigures:
    run_id: int
    board: str
    model: str
    started: float
    exit_status: int | None
    figures: dict[str, Figure]
    float_abi: str = ""  # the image's (its handshake): timing of two ABIs is never compared


@dataclass(frozen=True)
class Finding:
    board: str
    run_id: int | None
    model: str
    against: str  # "baseline", "trend", "health" or "field"
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"board": self.board, "run_id": self.run_id, "model": self.model,
                "against": self.against, "message": self.message}


@dataclass
class BoardReport:
    board: str
    latest: RunFigures | None
    baseline: RunFigures | None
    trend_runs: int
    findings: list[Finding] = field(default_factory=list)
    compared: list[FigureChange] = field(default_factory=list)


def board_runs(store: ResultsStore, board: str) -> list[RunFigures]:
    out = []
    for r in store.runs(board=board):
        if r["finished"] is None:
            continue  # still running, or killed before its end: not a figure to judge
        out.append(RunFigures(int(r["id"]), board, r["model_hash"] or "", float(r["started"]),
                              r["exit_status"], run_figures(store, int(r["id"])),
                              float_abi_of(r["core_version"] or "")))
    return out


def baseline_for(store: ResultsStore, registry: Registry | None, board: str
                 ) -> RunFigures | None:
    """The promoted model's validation run on this board (from the store, else its snapshot)."""
    if registry is None:
        return None
    state = registry.state()["boards"].get(board)
    if not state or not state.get("promoted") or not state.get("validation"):
        return None
    val = state["validation"]
    run_id = val.get("run_id")
    figures = run_figures(store, int(run_id)) if run_id is not None else {}
    if not figures:
        figures = {k: Figure.from_dict(v) for k, v in val.get("figures", {}).items()}
    abi = float_abi_of(str(val.get("device", {}).get("core_version") or ""))
    return RunFigures(int(run_id or 0), board, state["promoted"], float(val.get("started", 0)),
                      val.get("exit_status"), figures, abi)


def check_board(board: str, runs: list[RunFigures], baseline: RunFigures | None,
                cfg: MonitorConfig) -> BoardReport:
    """With a promoted baseline only the promoted model's runs are judged (a candidate's
    validation is the promotion's business, not the deployed model's health)."""
    if baseline is not None:
        runs = [r for r in runs if r.model == baseline.model]
    report = BoardReport(board, runs[-1] if runs else None, baseline, 0)
    if not runs:
        return report
    latest = runs[-1]
    if cfg.alert_on_infra and latest.exit_status == EXIT_INFRA:
        report.findings.append(Finding(board, latest.run_id, latest.model, "health",
                                       f"run {latest.run_id} failed in the rig (exit status 6: "
                                       "build, flash, link or timeout): the device is unhealthy"))
    previous = runs[:-1][-cfg.window:]
    report.trend_runs = len(previous)
    for name, fig in sorted(latest.figures.items()):
        th = threshold_for(cfg.thresholds, name)
        if th is None:
            continue
        if baseline is not None and baseline.run_id != latest.run_id and name in baseline.figures:
            abis = (baseline.float_abi, latest.float_abi)
            change = compare(name, baseline.figures[name], fig, th, abis)
            report.compared.append(change)
            if change.regressed:
                report.findings.append(Finding(
                    board, latest.run_id, latest.model, "baseline",
                    change.describe(f"the promoted baseline (run {baseline.run_id})")))
        values = [r.figures[name] for r in previous if name in r.figures
                  and r.figures[name].provenance == fig.provenance
                  and (r.float_abi == latest.float_abi or not name.startswith("latency_"))]
        if values:
            median = Figure(statistics.median(v.value for v in values), fig.unit, fig.provenance)
            change = compare(name, median, fig, th)
            report.compared.append(change)
            if change.regressed:
                report.findings.append(Finding(
                    board, latest.run_id, latest.model, "trend",
                    change.describe(f"the median of the previous {len(values)} runs")))
    return report


def boards_in(store: ResultsStore) -> list[str]:
    return sorted({r["board"] for r in store.runs() if r["board"]})
