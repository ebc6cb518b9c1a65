"""The report's summary section: the device, every metric, and the plots, visible at the top."""

from __future__ import annotations

from typing import Any

from .render import render


def summary_html(
    device: dict[str, str], references: dict[str, str], results: dict[str, Any]
) -> list[str]:
    validation, latency = results.get("validation"), results.get("latency")
    metrics: dict[str, float] = {}
    if validation is not None:
        metrics.update(validation.metrics)
    if latency is not None:
        metrics.update(latency.metrics())
    caption = "metrics" + (f" (latency {latency.provenance.note})" if latency else "")
    from . import plots  # matplotlib: only when there is something to draw

    images: list[tuple[bytes, str]] = []
    if latency is not None:
        images.append(
            (
                plots.latency_histogram(
                    latency.seconds * 1e6,
                    f"latency, {len(latency.cycles)} runs",
                    latency.provenance,
                ),
                "latency histogram",
            )
        )
    if validation is not None:
        comparison = validation.find("float") or validation.find("host")
        if comparison is not None and comparison.errors_steps is not None:
            images.append(
                (
                    plots.error_histogram(
                        comparison.errors_steps, f"output 0 vs {comparison.reference}"
                    ),
                    "error histogram",
                )
            )
        for ref in ("labels", "float"):
            c = validation.find(ref)
            if c is not None and c.confusion is not None:
                ylabel = "true class" if ref == "labels" else "float model class"
                images.append(
                    (
                        plots.confusion(c.confusion, f"confusion vs {ref}", ylabel),
                        f"confusion matrix vs {ref}",
                    )
                )
                break
    page = render(__package__, "summary.html.j2", device=device, references=references,
                  metrics=metrics, metrics_caption=caption, images=images)
    return [page]
