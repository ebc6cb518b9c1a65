"""The report's summary section: the device, every metric, and the plots, visible at the top.

It takes plain values (``SummaryFigures``), never the objects that computed them: the plugin,
which joins the model side and the device side, takes them from the run's results."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..provenance import Provenance
from .render import render


@dataclass(frozen=True)
class SummaryFigures:
    metrics: dict[str, float] = field(default_factory=dict)
    latency_us: np.ndarray | None = None  # every timed run
    latency_provenance: Provenance | None = None
    errors: tuple[np.ndarray, str] | None = None  # output 0's errors in steps, and against what
    confusion: tuple[np.ndarray, str] | None = None  # a confusion matrix: vs labels or float
    # an estimated latency: where the board's figure is expected (µs), None: no spread
    latency_band_us: tuple[float, float] | None = None


def summary_html(
    device: dict[str, str], references: dict[str, str], figures: SummaryFigures
) -> list[str]:
    from . import plots  # matplotlib: only when there is something to draw

    images: list[tuple[bytes, str]] = []
    notes: list[str] = []
    label = figures.latency_provenance
    if figures.latency_us is not None and label is Provenance.ESTIMATED:  # one figure: its band
        from .layers import estimate_band_note, estimate_band_plot

        us, band = float(figures.latency_us[0]), figures.latency_band_us
        notes.append(estimate_band_note(us, band))
        images.append((estimate_band_plot(us, band, "latency, estimated"), notes[-1]))
    elif figures.latency_us is not None and label is not None:
        title = f"latency, {len(figures.latency_us)} runs"
        images.append((plots.latency_histogram(figures.latency_us, title, label),
                       "latency histogram"))
    if figures.errors is not None:
        steps, reference = figures.errors
        images.append((plots.error_histogram(steps, f"output 0 vs {reference}"),
                       "error histogram"))
    if figures.confusion is not None:
        matrix, reference = figures.confusion
        ylabel = "true class" if reference == "labels" else "float model class"
        images.append((plots.confusion(matrix, f"confusion vs {reference}", ylabel),
                       f"confusion matrix vs {reference}"))
    caption = "metrics" + (f" (latency {label.note})" if label is not None else "")
    page = render(__package__, "summary.html.j2", device=device, references=references,
                  metrics=figures.metrics, metrics_caption=caption, notes=notes,
                  images=images)
    return [page]
