"""The compatibility report: one self-contained HTML page, a grid per model.

Rows and columns are the axes (runtime x converter; library ref x board and core); each cell is
coloured by its outcome, shows its key figures, and opens (click) or hovers (title) to its
figures and error. The page embeds its own data as JSON, so the next report can say what
changed since this one. This module shapes the data; templates/report.html.j2 lays it out
(autoescaped: every string from a device, a tool or a result file is escaped).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...provenance import LEGEND
from ...report.render import fig
from ...report.render import render as html_page
from .axes import Axes
from .expect import Expectation, judge
from .result import KEY_FIGURES, KINDS, STATUSES, CellResult, first_error, headline

COLOURS: dict[str, str] = {
    "pass": "#2e7d32",
    "compiles": "#9ccc65",
    "degraded": "#ef6c00",
    "unsupported": "#6a1b9a",
    "crash": "#c62828",
    "install": "#546e7a",
    "build": "#8d6e63",
    "flash": "#ad1457",
    "timeout": "#f9a825",
}
MEANINGS: dict[str, str] = {
    "pass": "runs; every gate passed, outputs equal the reference runtime's",
    "compiles": "compiled against the Arduino core and library; no board ran it",
    "degraded": "runs, but outputs or accuracy are outside a gate",
    "unsupported": "an op, op version or API was rejected with an error",
    "crash": "the process died (signal, abort)",
    "install": "the version cannot be installed or imported",
    "build": "the firmware (or the twin's image) could not be built",
    "flash": "the board could not be flashed",
    "timeout": "timed out, or the rig failed: the model was not judged",
}
DATA_ID = "matrix-data"
_DATA_RE = re.compile(r'<script type="application/json" id="' + DATA_ID + r'">(.*?)</script>', re.S)


def _fmt(name: str, value: float) -> str:
    return fig(float(value), name)


def latest(results: Iterable[CellResult]) -> list[CellResult]:
    """One result per cell: the last one started."""
    by_id: dict[str, CellResult] = {}
    for r in results:
        old = by_id.get(r.cell_id)
        if old is None or r.started >= old.started:
            by_id[r.cell_id] = r
    return list(by_id.values())


@dataclass(frozen=True)
class Grid:
    kind: str
    model: str
    rows: list[str]
    columns: list[str]
    cells: dict[tuple[str, str], CellResult]


def grids(results: Sequence[CellResult], axes: Axes | None = None) -> list[Grid]:
    """A grid per (kind, model); rows and columns in the axes file's order when known."""
    row_order: dict[str, int] = {}
    col_order: dict[str, int] = {}
    if axes is not None:
        row_order = {r.id: i for i, r in enumerate(axes.runtimes)}
        row_order.update({t.id: i for i, t in enumerate(axes.tflm_refs)})
        col_order = {c.id: i for i, c in enumerate(axes.converters)}
        emu = axes.emulated
        pairs = [f"{b} {c}" for b in emu.boards for c in emu.converters]
        col_order.update({pair: i for i, pair in enumerate(pairs)})
    out = []
    keys = sorted({(r.kind, r.model) for r in results}, key=lambda k: (KINDS.index(k[0]), k))
    for kind, model in keys:
        cells = {(r.row, r.column): r for r in results if (r.kind, r.model) == (kind, model)}
        rows = sorted({k[0] for k in cells}, key=lambda x: (row_order.get(x, 999), x))
        cols = sorted({k[1] for k in cells}, key=lambda x: (col_order.get(x, 999), x))
        out.append(Grid(kind, model, rows, cols, cells))
    return out


def previous_results(path: Path) -> list[CellResult] | None:
    """The cell results embedded in an earlier report, or None if there is none."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return None
    match = _DATA_RE.search(text)
    if not match:
        return None
    try:
        data = json.loads(match.group(1))
        return [CellResult.from_json(d) for d in data["results"]]
    except (ValueError, KeyError, TypeError):
        return None


def _row_label(grid: Grid, row: str) -> tuple[str, str]:
    """A row's name and the version under it."""
    sample = next((c for (r, _), c in grid.cells.items() if r == row), None)
    if sample is None:
        return row, ""
    version = sample.axes.get("tflite_micro") or sample.axes.get("tflm_ref_sha", "")[:10]
    if sample.axes.get("tflm_ref_date"):
        version += f" ({sample.axes['tflm_ref_date']})"
    return row, version


def _col_label(grid: Grid, col: str) -> tuple[str, str]:
    """A column's name and what it stands for."""
    sample = next((c for (_, k), c in grid.cells.items() if k == col), None)
    if sample is None:
        return col, ""
    if grid.kind in ("sim", "emu"):
        tf = sample.axes.get("tensorflow", "")
        extra = (
            "" if sample.axes.get("per_channel_dense", "true") == "true" else ", per-tensor dense"
        )
        sub = f"TF {tf}{extra}" if tf != "prebuilt" else "as shipped"
        if grid.kind == "emu":
            sub = f"{sample.axes.get('board', '')}, {sub}"
    else:
        sub = f"core {sample.axes.get('arduino_core_version', '')}"
    return col, sub


SHORT_LABELS = {"agreement": ("agree ", ""), "latency_us": ("", " µs")}


def _emu_figures(r: CellResult) -> str:
    """An emulated cell's figures: bit-exact vectors, the largest error in steps, accuracy,
    emulated instructions per invoke, arena used."""
    f, parts = r.figures, []
    vectors = r.details.get("convert", {}).get("vectors") if isinstance(r.details, dict) else None
    if "vectors_differing_vs_host" in f:
        differ = int(f["vectors_differing_vs_host"])
        exact = f"{int(vectors) - differ}/{int(vectors)}" if vectors else f"{differ} differ"
        parts.append(f"bit-exact {exact}")
        if differ:
            parts.append(f"≤{_fmt('steps', f.get('max_error_steps_vs_host', 0))} steps")
    if "accuracy_vs_labels" in f:
        parts.append(f"acc {f['accuracy_vs_labels']:.3f}")
    if "latency_cycles_median" in f:
        mark = r.marked(["latency_cycles_median"])
        parts.append(f"{f['latency_cycles_median'] / 1000:.1f}k instr{mark}")
    if "arena_used_bytes" in f:
        parts.append(f"arena {int(f['arena_used_bytes'])} B{r.marked(['arena_used_bytes'])}")
    return " · ".join(parts)


def _short_figures(r: CellResult) -> str:
    if r.kind == "emu":
        return _emu_figures(r)
    figures = r.key_figures()
    parts = []
    for key, (before, after) in SHORT_LABELS.items():
        if key in figures:
            mark = r.marked(KEY_FIGURES[key])
            parts.append(f"{before}{_fmt(key, figures[key])}{after}{mark}")
    return " · ".join(parts)


def _cause(r: CellResult, width: int = 48) -> str:
    """A few words on why a cell did not pass, for the grid itself."""
    if r.status == "pass":
        return ""
    if r.status == "crash":
        text = f"{r.category or 'died'} in {r.stage}"
    elif r.status == "build" and first_error(r.error):
        return first_error(r.error, width=120)  # the compiler's own words: the cause itself
    elif r.stage == "gate":
        text = "outputs differ from the reference runtime"
    elif r.gate and r.status == "degraded":
        text = r.gate.rsplit("::", 1)[-1]  # the test, without its module
    else:
        text = headline(r.error) or r.category
    return text if len(text) <= width else text[: width - 1] + "…"


def _cell(r: CellResult, change: str | None) -> dict[str, Any]:
    """What the template shows of one cell: the grid's summary, the hover text, the details."""
    figures = r.key_figures()
    hover = [f"{r.status} ({r.stage})" if r.stage else r.status]
    if r.gate:
        hover.append(f"gate: {r.gate}")
    hover += [f"{k}: {_fmt(k, v)}" for k, v in figures.items()]
    if r.error:
        hover.append(r.error.strip().splitlines()[0][:300])
    conv = r.details.get("convert") if isinstance(r.details, dict) else None
    ops = None
    if isinstance(conv, dict) and conv.get("per_channel_ops") is not None:
        ops = (", ".join(conv["per_channel_ops"]) or "none",
               json.dumps(conv.get("op_versions", {})))
    return {
        "r": r, "colour": COLOURS[r.status], "hover": "\n".join(hover), "badge": change,
        "short": _short_figures(r), "cause": _cause(r), "ops": ops,
        "figures": [(name, _fmt(name, value), r.provenance.get(name))
                    for name, value in sorted(r.figures.items())],
        "duration": f"{r.duration_s:.0f} s" if r.duration_s is not None else "unfinished",
    }


def _changes(
    results: Sequence[CellResult], previous: Sequence[CellResult] | None
) -> tuple[dict[str, str], list[dict[str, Any]], str]:
    """Per cell id a short badge; the changes since the previous report (cell, was, now);
    what to say when there are none."""
    if previous is None:
        return {}, [], "No previous report: nothing to compare with."
    before = {r.cell_id: r for r in previous}
    badges: dict[str, str] = {}
    changes: list[dict[str, Any]] = []
    for r in sorted(results, key=lambda r: r.cell_id):
        old = before.pop(r.cell_id, None)
        if old is None:
            badges[r.cell_id] = "new"
            changes.append({"cell": r.cell_id, "was": None, "now": r.status})
        elif old.status != r.status:
            badges[r.cell_id] = f"was {old.status}"
            changes.append({"cell": r.cell_id, "was": old.status, "now": r.status})
    for cell_id, old in sorted(before.items()):
        changes.append({"cell": cell_id, "was": old.status, "now": None})
    return badges, changes, "No cell changed outcome since the previous report."


GATE_LABELS = {
    "regression": "regressed (expected to pass)",
    "improved": "started passing",
    "changed": "changed outcome",
    "new": "no expectation yet",
    "missing": "expected but not run",
}


def _caption(g: Grid) -> str:
    if g.kind == "sim":
        return f"{g.model}: tflite-micro runtime (rows) x converter (columns), simulated"
    if g.kind == "emu":
        return (f"{g.model}: TFLM library ref (rows) x emulated board and converter (columns), "
                "the board's firmware image on QEMU")
    return f"{g.model}: TFLM library ref (rows) x board and Arduino core (columns)"


def render(
    results: Iterable[CellResult],
    *,
    axes: Axes | None = None,
    previous: Sequence[CellResult] | None = None,
    expected: dict[str, Expectation] | None = None,
    title: str = "tflm-hil compatibility matrix",
    generated: float | None = None,
) -> str:
    cells = latest(results)
    badges, changes, no_change = _changes(cells, previous)
    gate = judge(cells, expected) if expected is not None else None
    sections = [
        {"caption": _caption(g), "grid": g,
         "columns": [_col_label(g, c) for c in g.columns],
         "rows": [(_row_label(g, row),
                   [_cell(r, badges.get(r.cell_id)) if r else None
                    for r in (g.cells.get((row, col)) for col in g.columns)])
                  for row in g.rows]}
        for g in grids(cells, axes)
    ]
    return html_page(
        __package__, "report.html.j2", title=title,
        generated=time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(generated or time.time())),
        count=len(cells), provenance_legend=LEGEND, colours=COLOURS,
        legend=[(s, MEANINGS[s], sum(1 for r in cells if r.status == s)) for s in STATUSES],
        changes=changes, no_change=no_change, gate=gate, gate_labels=GATE_LABELS,
        sections=sections, data_id=DATA_ID,
        data={"results": [r.to_json() for r in cells]},
    )
