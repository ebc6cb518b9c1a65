"""The report's summary section: the device, every metric, and the plots, visible at the top."""

from __future__ import annotations

from typing import Any

from . import html

STYLE = """<style>
table.tflm-hil { border-collapse: collapse; margin: 6px 0 12px 0; }
table.tflm-hil td, table.tflm-hil th { border: 1px solid #ccc; padding: 2px 8px; text-align: left; }
table.tflm-hil caption { font-weight: bold; text-align: left; }
img.tflm-hil-plot { margin: 4px 12px 4px 0; border: 1px solid #ddd; }
</style>"""


def summary_html(
    device: dict[str, str], references: dict[str, str], results: dict[str, Any]
) -> list[str]:
    parts = [STYLE]
    if device:
        parts.append(html.mapping_table(device, caption="tflm-hil device"))
    if references:
        parts.append(html.mapping_table(references, caption="reference outputs"))
    validation, latency = results.get("validation"), results.get("latency")
    metrics: dict[str, float] = {}
    if validation is not None:
        metrics.update(validation.metrics)
    if latency is not None:
        metrics.update(latency.metrics())
    if metrics:
        caption = "metrics" + (f" (latency {latency.provenance.note})" if latency else "")
        parts.append(html.mapping_table(metrics, caption=caption))
    from . import plots  # matplotlib: only when there is something to draw

    images = []
    if latency is not None and latency.provenance == "estimated":  # one figure: its band
        from .layers import estimate_band_html

        us = float(latency.seconds[0]) * 1e6
        band = results.get("latency_band_us")
        images.append(estimate_band_html(us, band, "latency, estimated"))
    elif latency is not None:
        images.append(
            html.image(
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
                html.image(
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
                    html.image(
                        plots.confusion(c.confusion, f"confusion vs {ref}", ylabel),
                        f"confusion matrix vs {ref}",
                    )
                )
                break
    if images:
        parts.append("<div>" + "".join(images) + "</div>")
    return parts
