"""The periodic summary report: one self-contained HTML page (no scripts, no external files).

Sections: alerts (the monitor's findings), model performance (runs in the period, per board
and model version, with their key figures), device health (outcomes and failure categories
per board), maintenance activity (the registry's events) and field accuracy. Every value is
HTML-escaped.
"""

from __future__ import annotations

import html
import time
from collections import Counter
from typing import Any

from ..registry.store import Registry
from ..results.store import ResultsStore
from .checks import BoardReport, board_runs, boards_in

KEY_FIGURES = ("accuracy_vs_labels", "top1_agreement_vs_float", "latency_us_median",
               "arena_used_bytes", "flash_bytes", "ram_bytes")
OUTCOMES: dict[int | None, str] = {0: "passed", 1: "failed (model)", 6: "failed (rig)"}
CSS = """body{font:14px system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:3px 8px;
text-align:left}th{background:#f3f3f3}.bad{color:#b00020;font-weight:bold}.ok{color:#1b7f3b}
.est{color:#777;font-style:italic}"""


def _e(v: Any) -> str:
    return html.escape(str(v), quote=True)


def _when(t: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(t)) if t else ""


def _table(head: list[str], rows: list[list[str]]) -> str:
    """Cells arrive escaped (they may carry markup made here); headers are escaped here."""
    if not rows:
        return "<p>none in this period</p>"
    th = "".join(f"<th>{_e(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{th}</tr>{body}</table>"


def render(store: ResultsStore, registry: Registry | None, reports: list[BoardReport],
           *, since: float, title: str = "tflm-hil summary") -> str:
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{_e(title)}</title>"
             f"<style>{CSS}</style></head><body><h1>{_e(title)}</h1>",
             f"<p>period: {_e(_when(since))} to {_e(_when(time.time()))} UTC</p>"]
    # Monitor findings first: what needs attention.
    findings = [f for r in reports for f in r.findings]
    parts.append("<h2>Alerts</h2>")
    parts.append(_table(["board", "run", "model", "against", "finding"], [
        [_e(f.board), _e(f.run_id), _e(f.model[:12]), _e(f.against),
         f"<span class='bad'>{_e(f.message)}</span>"] for f in findings]))
    period = {b: [r for r in board_runs(store, b) if r.started >= since] for b in boards_in(store)}
    promoted = registry.state()["boards"] if registry else {}
    parts.append("<h2>Model performance</h2>")
    rows = []
    health: dict[str, Counter] = {}
    categories: Counter = Counter()
    for board, runs in period.items():
        for run in runs:
            status = run.exit_status
            health.setdefault(board, Counter())[OUTCOMES.get(status, f"exit {status}")] += 1
            for r in store.results(run.run_id):
                if r["outcome"] in ("failed", "error"):
                    categories[(board, r["category"] or "assertion")] += 1
            cells = [_e(run.run_id), _e(_when(run.started)), _e(board), _e(run.model[:12])
                     + (" (promoted)" if promoted.get(board, {}).get("promoted") == run.model
                        else "")]
            for name in KEY_FIGURES:
                fig = run.figures.get(name)
                if fig is None:
                    cells.append("")
                else:
                    mark = fig.provenance.mark
                    label = f" <span class='est' title='{fig.provenance.note}'>{mark}</span>"
                    cells.append(f"{_e(f'{fig.value:g}')}{label if mark else ''}")
            ok = "ok" if status == 0 else "bad"
            cells.append(f"<span class='{ok}'>{_e(status)}</span>")
            rows.append(cells)
    parts.append(_table(["run", "started", "board", "model", *KEY_FIGURES, "exit"], rows))
    parts.append("<h2>Device health</h2>")
    parts.append(_table(["board", "runs by outcome"], [
        [_e(b), _e(", ".join(f"{k}: {v}" for k, v in sorted(c.items())))]
        for b, c in sorted(health.items())]))
    parts.append(_table(["board", "failure category", "failed tests"], [
        [_e(b), _e(c), _e(n)] for (b, c), n in sorted(categories.items())]))
    parts.append("<h2>Maintenance activity</h2>")
    events = [e for e in (registry.events() if registry else []) if e.get("time", 0) >= since]
    parts.append(_table(["time", "event", "model", "board", "details"], [
        [_e(_when(e.get("time"))), _e(e.get("event")), _e(str(e.get("model", ""))[:12]),
         _e(e.get("board", "")),
         _e("; ".join(f"{k}={v}" for k, v in sorted(e.items())
                      if k not in ("time", "event", "model", "board")))]
        for e in events]))
    if registry:
        parts.append("<h2>Field accuracy</h2>")
        parts.append(_table(["model", "time", "rows", "accuracy"], [
            [_e(entry.short), _e(_when(f["time"])), _e(f["rows"]), _e(f"{f['accuracy']:.4f}")]
            for entry in registry.entries() for f in entry.field_results
            if f.get("time", 0) >= since]))
    parts.append("</body></html>\n")
    return "\n".join(parts)
