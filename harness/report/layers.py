"""Per-layer latency in the report: a table and a bar chart with one column (one bar) per
provenance, never summed or averaged across them; and the twin's estimate with its band.

Each layer's figures come in device microseconds keyed by provenance: ``estimated`` (the
twin's cost model), ``emulated`` (instructions on QEMU at the board's clock) or ``measured``
(TFLM's profiler on a board).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from matplotlib.ticker import MaxNLocator

from ..provenance import Provenance
from . import html
from .plots import _png, plt

NO_SPREAD = "no spread: the cost model's calibration for this CPU predicts no pair without itself"
COLOURS = {
    Provenance.ESTIMATED: "#a5a5a5",
    Provenance.EMULATED: "#ed7d31",
    Provenance.MEASURED: "#4472c4",
}


@dataclass(frozen=True)
class LayerRow:
    index: int
    op: str
    family: str
    us: dict[Provenance, float]  # device microseconds per provenance


def _kinds(rows: Sequence[LayerRow]) -> list[Provenance]:
    return [p for p in Provenance if any(p in r.us for r in rows)]


def layer_table(rows: Sequence[LayerRow], caption: str = "per-layer latency") -> str:
    kinds = _kinds(rows)
    totals = {p: sum(r.us.get(p, 0.0) for r in rows) for p in kinds}
    header = ["#", "operator", "kernel family"]
    for p in kinds:
        header += [f"{p} µs", f"{p} share"]
    body = []
    for r in rows:
        cells: list[object] = [r.index, r.op, r.family]
        for p in kinds:
            v = r.us.get(p)
            share = f"{100 * v / totals[p]:.1f} %" if v is not None and totals[p] else "-"
            cells += ["-" if v is None else round(v, 1), share]
        body.append(cells)
    notes = "; ".join(f"{p}: {p.note}" for p in kinds)
    return html.table(body, header, caption=f"{caption} ({notes})")


def layer_chart(rows: Sequence[LayerRow], title: str) -> bytes:
    """Horizontal bars, one group per layer, one bar per provenance, in execution order."""
    kinds = _kinds(rows)
    fig, ax = plt.subplots(figsize=(6.5, 0.9 + 0.28 * len(rows) * max(1, len(kinds))))
    height = 0.8 / max(1, len(kinds))
    for k, p in enumerate(kinds):
        ys = [i + k * height for i in range(len(rows))]
        ax.barh(ys, [r.us.get(p, 0.0) for r in rows], height=height, color=COLOURS[p],
                label=f"{p} ({p.note})")  # fmt: skip
    ax.set_yticks([i + 0.4 - height / 2 for i in range(len(rows))])
    ax.set_yticklabels([f"{r.index} {r.op}" for r in rows], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("device µs per layer")
    ax.set_title(title)
    ax.legend(fontsize=7, loc="lower right")
    return _png(fig)


def estimate_band_plot(us: float, band_us: tuple[float, float] | None, title: str) -> bytes:
    """The twin's latency: one deterministic estimate, so no histogram; the band the board's
    figure is expected in (the calibration's spread), or a plain note that it has none."""
    fig, ax = plt.subplots(figsize=(5, 1.9))
    ax.axvline(us, color="#404040", label=f"estimate {us:,.0f} µs")
    if band_us is not None:
        ax.axvspan(*band_us, color=COLOURS[Provenance.ESTIMATED], alpha=0.5,
                   label=f"uncertainty band {band_us[0]:,.0f}-{band_us[1]:,.0f} µs")  # fmt: skip
        lo, hi = band_us
    else:
        ax.text(0.02, 0.5, NO_SPREAD.replace(": ", ":\n", 1), transform=ax.transAxes, fontsize=8)
        lo, hi = us * 0.8, us * 1.2
    ax.set_xlim(lo - 0.1 * (hi - lo), hi + 0.1 * (hi - lo))
    ax.xaxis.set_major_locator(MaxNLocator(5))
    ax.set_yticks([])
    ax.set_xlabel(f"latency (µs, {Provenance.ESTIMATED})")
    ax.set_title(title)
    ax.legend(fontsize=7, loc="upper right")
    return _png(fig)


def estimate_band_note(us: float, band_us: tuple[float, float] | None) -> str:
    """What the band plot shows, in words: the band, or that it has none."""
    if band_us is None:
        return f"estimated {us:,.0f} µs; {NO_SPREAD}"
    return (f"estimated {us:,.0f} µs; the board is expected within {band_us[0]:,.0f}-"
            f"{band_us[1]:,.0f} µs (the calibration's leave-one-out spread)")  # fmt: skip


def estimate_band_html(us: float, band_us: tuple[float, float] | None, title: str) -> str:
    """The band plot with a line of text saying what it shows (the band, or that it has none)."""
    note = estimate_band_note(us, band_us)
    return f"<p>{escape(note)}</p>" + html.image(estimate_band_plot(us, band_us, title), note)
