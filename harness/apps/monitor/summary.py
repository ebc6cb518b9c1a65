"""The periodic summary report: one self-contained HTML page (no scripts, no external files).

Sections: alerts (the monitor's findings), model performance (runs in the period, per board
and model version, with their key figures), device health (outcomes and failure categories
per board), maintenance activity (the registry's events) and field accuracy. This module
shapes the data; templates/summary.html.j2 lays it out (autoescaped: every value is escaped).
"""

from __future__ import annotations

import time
from collections import Counter

from ...report.render import render as html_page
from ...report.render import when
from ...results.store import ResultsStore
from ..registry.store import Registry
from .checks import BoardReport, board_runs, boards_in

KEY_FIGURES = ("accuracy_vs_labels", "top1_agreement_vs_float", "latency_us_median",
               "arena_used_bytes", "flash_bytes", "ram_bytes")
OUTCOMES: dict[int | None, str] = {0: "passed", 1: "failed (model)", 6: "failed (rig)"}


def _figure(run_figures: dict, name: str) -> dict[str, str] | None:
    fig = run_figures.get(name)
    if fig is None:
        return None
    return {"value": f"{fig.value:g}", "mark": fig.provenance.mark, "note": fig.provenance.note}


def render(store: ResultsStore, registry: Registry | None, reports: list[BoardReport],
           *, since: float, title: str = "tflm-hil summary") -> str:
    period = {b: [r for r in board_runs(store, b) if r.started >= since] for b in boards_in(store)}
    promoted = registry.state()["boards"] if registry else {}
    runs = []
    health: dict[str, Counter] = {}
    categories: Counter = Counter()
    for board, board_period in period.items():
        for run in board_period:
            status = run.exit_status
            health.setdefault(board, Counter())[OUTCOMES.get(status, f"exit {status}")] += 1
            for r in store.results(run.run_id):
                if r["outcome"] in ("failed", "error"):
                    categories[(board, r["category"] or "assertion")] += 1
            runs.append({
                "run_id": run.run_id, "started": run.started, "board": board,
                "model": run.model[:12],
                "promoted": promoted.get(board, {}).get("promoted") == run.model,
                "figures": [_figure(run.figures, name) for name in KEY_FIGURES],
                "status": status,
            })
    events = [
        [when(e.get("time")), e.get("event"), str(e.get("model", ""))[:12], e.get("board", ""),
         "; ".join(f"{k}={v}" for k, v in sorted(e.items())
                   if k not in ("time", "event", "model", "board"))]
        for e in (registry.events() if registry else []) if e.get("time", 0) >= since
    ]
    field = None if registry is None else [
        [entry.short, when(f["time"]), f["rows"], f"{f['accuracy']:.4f}"]
        for entry in registry.entries() for f in entry.field_results if f.get("time", 0) >= since
    ]
    return html_page(
        __package__, "summary.html.j2", title=title, since=since, now=time.time(),
        findings=[f for r in reports for f in r.findings], key_figures=list(KEY_FIGURES), runs=runs,
        health=[(b, ", ".join(f"{k}: {v}" for k, v in sorted(c.items())))
                for b, c in sorted(health.items())],
        categories=[(b, c, n) for (b, c), n in sorted(categories.items())],
        events=events, field=field,
    )
