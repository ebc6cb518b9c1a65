"""pytest -n: the summary of every worker's board, folded in xdist's controller.

The summary (the terminal's ``tflm-hil device`` section, the HTML report's device table,
metrics and plots) is filled by the tests that opened the device, in the worker that ran them,
and xdist brings back only the test reports. So each worker sends its summary as plain values
(``workeroutput``, which execnet carries) when it ends, and the controller folds them: one
device table (a value that differs between boards is given per board, after the board's
``board_instance``), the reference notes, every metric (per board where boards differ), and
each plot from the first worker that drew it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..provenance import Provenance
from ..report.summary import SummaryFigures

KEY = "tflm_hil_summary"  # in a worker's workeroutput


def to_plain(
    instance: str, device: dict[str, str], references: dict[str, str], figures: SummaryFigures
) -> dict[str, Any]:
    def pair(value: tuple[np.ndarray, str] | None) -> list[Any] | None:
        return None if value is None else [np.asarray(value[0]).tolist(), value[1]]

    return {
        "instance": instance,
        "device": dict(device),
        "references": dict(references),
        "metrics": {k: float(v) for k, v in figures.metrics.items()},
        "latency_us": None if figures.latency_us is None else figures.latency_us.tolist(),
        "latency_provenance": figures.latency_provenance and str(figures.latency_provenance),
        "errors": pair(figures.errors),
        "confusion": pair(figures.confusion),
        "latency_band_us": figures.latency_band_us and list(figures.latency_band_us),
    }


def _per_board(values: dict[str, str]) -> str:
    """One value if every board has it, else each board's."""
    if len(set(values.values())) == 1:
        return next(iter(values.values()))
    return "; ".join(f"{value} ({instance})" for instance, value in values.items())


def fold(
    summaries: list[dict[str, Any]],
) -> tuple[dict[str, str], dict[str, str], SummaryFigures]:
    """The workers' summaries as one: (device table, reference notes, figures)."""
    summaries = sorted(summaries, key=lambda s: s["instance"])
    device = {"board_instance": ", ".join(s["instance"] for s in summaries)}
    for key in dict.fromkeys(k for s in summaries for k in s["device"]):
        device[key] = _per_board({s["instance"]: s["device"][key] for s in summaries
                                  if key in s["device"]})
    references: dict[str, str] = {}
    for s in summaries:
        references.update(s["references"])
    metrics: dict[str, float] = {}
    for name in dict.fromkeys(k for s in summaries for k in s["metrics"]):
        values = {s["instance"]: s["metrics"][name] for s in summaries if name in s["metrics"]}
        if len(set(values.values())) == 1:
            metrics[name] = next(iter(values.values()))
        else:
            metrics.update({f"{name} ({instance})": v for instance, v in values.items()})

    def first(field: str) -> Any:
        return next((s[field] for s in summaries if s[field] is not None), None)

    timed = next((s for s in summaries if s["latency_us"] is not None), None)
    errors, confusion = first("errors"), first("confusion")
    figures = SummaryFigures(
        metrics,
        None if timed is None else np.asarray(timed["latency_us"]),
        None if timed is None else Provenance(timed["latency_provenance"]),
        None if errors is None else (np.asarray(errors[0]), errors[1]),
        None if confusion is None else (np.asarray(confusion[0]), confusion[1]),
        None if timed is None or not timed["latency_band_us"] else tuple(timed["latency_band_us"]),
    )
    return device, references, figures
