"""The compatibility report: one self-contained HTML page, a grid per model.

Rows and columns are the axes (runtime x converter; library ref x board and core); each cell is
coloured by its outcome, shows its key figures, and opens (click) or hovers (title) to its
figures and error. The page embeds its own data as JSON, so the next report can say what
changed since this one. Every string from a device, a tool or a result file is escaped.
"""

from __future__ import annotations

import html
import json
import math
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ...provenance import LEGEND
from .axes import Axes
from .expect import Expectation, GateReport, judge
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


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def _fmt(name: str, value: float) -> str:
    if "agreement" in name or name.startswith("cosine"):
        return f"{value:.3f}"
    if math.isfinite(value) and value == int(value) and abs(value) < 1e12:
        return f"{int(value)}"
    return f"{value:.4g}"


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


def _row_label(grid: Grid, row: str) -> str:
    sample = next((c for (r, _), c in grid.cells.items() if r == row), None)
    if sample is None:
        return esc(row)
    version = sample.axes.get("tflite_micro") or sample.axes.get("tflm_ref_sha", "")[:10]
    if sample.axes.get("tflm_ref_date"):
        version += f" ({sample.axes['tflm_ref_date']})"
    return f"{esc(row)}<br><small>{esc(version)}</small>"


def _col_label(grid: Grid, col: str) -> str:
    sample = next((c for (_, k), c in grid.cells.items() if k == col), None)
    if sample is None:
        return esc(col)
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
    return f"{esc(col)}<br><small>{esc(sub)}</small>"


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


def _cell_html(r: CellResult, change: str | None) -> str:
    figures = r.key_figures()
    short = _short_figures(r)
    cause = _cause(r)
    hover = [f"{r.status} ({r.stage})" if r.stage else r.status]
    if r.gate:
        hover.append(f"gate: {r.gate}")
    hover += [f"{k}: {_fmt(k, v)}" for k, v in figures.items()]
    if r.error:
        hover.append(r.error.strip().splitlines()[0][:300])
    rows = "".join(
        f"<tr><th>{esc(name)}</th><td>{esc(_fmt(name, value))}"
        f"{f' ({r.provenance[name]})' if name in r.provenance else ''}</td></tr>"
        for name, value in sorted(r.figures.items())
    )
    axes = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in r.axes.items())
    extra = []
    if r.gate:
        extra.append(f"<p><b>failing gate</b>: {esc(r.gate)}</p>")
    if r.category:
        extra.append(f"<p><b>cause</b>: {esc(r.category)}</p>")
    if r.error:
        extra.append(f"<pre class='err'>{esc(r.error)}</pre>")
    conv = r.details.get("convert") if isinstance(r.details, dict) else None
    if isinstance(conv, dict) and conv.get("per_channel_ops") is not None:
        extra.append(
            f"<p><b>per-channel ops</b>: {esc(', '.join(conv['per_channel_ops']) or 'none')}"
            f"; <b>op versions</b>: {esc(json.dumps(conv.get('op_versions', {})))}</p>"
        )
    if r.provisional:
        extra.append("<p><b>provisional</b>: the cell never finished</p>")
    badge = f"<span class='chg'>{esc(change)}</span>" if change else ""
    duration = f"{r.duration_s:.0f} s" if r.duration_s is not None else "unfinished"
    return (
        f"<td class='cell' data-status='{esc(r.status)}' data-cell='{esc(r.cell_id)}' "
        f"style='--c:{COLOURS[r.status]}' title='{esc(chr(10).join(hover))}'>"
        f"<details><summary><span class='st'>{esc(r.status)}</span>{badge}"
        f"<span class='fig'>{esc(short)}</span><span class='why'>{esc(cause)}</span></summary>"
        f"<div class='more'><table class='kv'>{axes}</table>{''.join(extra)}"
        f"<table class='kv'>{rows}</table><p class='dim'>{esc(duration)}</p></div>"
        f"</details></td>"
    )


def _changes(
    results: Sequence[CellResult], previous: Sequence[CellResult] | None
) -> tuple[dict[str, str], list[str]]:
    """Per cell id a short badge, and the lines of the 'changed since' section."""
    if previous is None:
        return {}, ["No previous report: nothing to compare with."]
    before = {r.cell_id: r for r in previous}
    badges: dict[str, str] = {}
    lines: list[str] = []
    for r in sorted(results, key=lambda r: r.cell_id):
        old = before.pop(r.cell_id, None)
        if old is None:
            badges[r.cell_id] = "new"
            lines.append(f"new cell {esc(r.cell_id)}: {_status_span(r.status)}")
        elif old.status != r.status:
            badges[r.cell_id] = f"was {old.status}"
            lines.append(f"{esc(r.cell_id)}: {_status_span(old.status)} → {_status_span(r.status)}")
    for cell_id, old in sorted(before.items()):
        lines.append(f"{esc(cell_id)}: no longer in the results (was {_status_span(old.status)})")
    return badges, lines or ["No cell changed outcome since the previous report."]


def _status_span(status: str) -> str:
    return f"<span class='pill' style='--c:{COLOURS.get(status, '#000')}'>{esc(status)}</span>"


def _gate_section(gate: GateReport | None) -> str:
    if gate is None:
        return ""
    items = []
    labels = {
        "regression": "regressed (expected to pass)",
        "improved": "started passing",
        "changed": "changed outcome",
        "new": "no expectation yet",
        "missing": "expected but not run",
    }
    for kind, label in labels.items():
        for c in gate.of(kind):
            items.append(
                f"<li class='{esc(kind)}'><b>{esc(label)}</b>: {esc(c.cell_id)} "
                f"({_status_span(c.expected) if c.expected else '-'} → "
                f"{_status_span(c.got) if c.got else '-'})"
                f"{' — ' + esc(c.why) if c.why else ''}</li>"
            )
    verdict = "FAILED" if gate.failed else "passed"
    return (
        f"<section><h2>Against matrix/expected.toml: {verdict}</h2>"
        f"<p>{len(gate.of('same'))} cell(s) as expected.</p><ul>{''.join(items)}</ul></section>"
    )


CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
table.grid{border-collapse:collapse;margin:.5em 0 2em}
table.grid th,table.grid td{border:1px solid #ccc;padding:4px 6px;vertical-align:top}
table.grid th{background:#f4f4f4;text-align:left;font-weight:600}
td.cell{background:color-mix(in srgb,var(--c) 22%,white);border-left:6px solid var(--c);
 min-width:9em}
td.cell summary{cursor:pointer;list-style:none}
.st{font-weight:700;color:var(--c)} .fig{display:block;font-size:12px;color:#333}
.why{display:block;font-size:11px;color:#555;max-width:16em;overflow-wrap:anywhere}
.chg{font-size:11px;background:#fff;border:1px solid #999;border-radius:3px;padding:0 3px;
 margin-left:4px}
.more{max-width:34em;font-size:12px} pre.err{white-space:pre-wrap;background:#fff;
 border:1px solid #ddd;padding:4px;max-height:18em;overflow:auto}
table.kv th{background:none;font-weight:500;color:#555;padding-right:8px}
.pill{background:var(--c);color:#fff;border-radius:3px;padding:0 5px}
.dim{color:#777} li.regression{color:#b71c1c}
"""


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
    badges, change_lines = _changes(cells, previous)
    gate = judge(cells, expected) if expected is not None else None
    counts = {s: sum(1 for r in cells if r.status == s) for s in STATUSES}
    legend = "".join(
        f"<li>{_status_span(s)} {esc(MEANINGS[s])} ({counts[s]})</li>" for s in STATUSES
    )
    sections = []
    for g in grids(cells, axes):
        if g.kind == "sim":
            caption = (
                f"{esc(g.model)}: tflite-micro runtime (rows) x converter (columns), simulated"
            )
        elif g.kind == "emu":
            caption = (
                f"{esc(g.model)}: TFLM library ref (rows) x emulated board and converter "
                "(columns), the board's firmware image on QEMU"
            )
        else:
            caption = f"{esc(g.model)}: TFLM library ref (rows) x board and Arduino core (columns)"
        head = "".join(f"<th>{_col_label(g, c)}</th>" for c in g.columns)
        body = []
        for row in g.rows:
            tds = []
            for col in g.columns:
                r = g.cells.get((row, col))
                tds.append(_cell_html(r, badges.get(r.cell_id)) if r else "<td class='dim'>—</td>")
            body.append(f"<tr><th>{_row_label(g, row)}</th>{''.join(tds)}</tr>")
        sections.append(
            f"<section><h2>{caption}</h2><table class='grid' data-model='{esc(g.model)}' "
            f"data-kind='{esc(g.kind)}'><tr><th></th>{head}</tr>{''.join(body)}</table></section>"
        )
    data = json.dumps({"results": [r.to_json() for r in cells]}, sort_keys=True)
    # JSON inside <script> must not contain "</": escape every "<" (still valid JSON).
    data = data.replace("<", "\\u003c")
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(generated or time.time()))
    changes = "".join(f"<li>{line}</li>" for line in change_lines)
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{esc(title)}</title><style>{CSS}</style></head><body>"
        f"<h1>{esc(title)}</h1><p class='dim'>generated {esc(when)}; {len(cells)} cells. "
        "Hover a cell for its figures, click it for the details and the error. "
        f"Figures marked {esc(LEGEND)}.</p>"
        f"<ul class='legend'>{legend}</ul>"
        f"<section><h2>Changes since the previous report</h2><ul>{changes}</ul></section>"
        f"{_gate_section(gate)}{''.join(sections)}"
        f'<script type="application/json" id="{DATA_ID}">{data}</script>'
        "</body></html>\n"
    )
