"""The validation gates: one test per gate, each naming its metric, figure and threshold."""

from __future__ import annotations

import pytest
from pytest_html import extras as html_extras

from harness.metrics.gates import Gate
from harness.plugin.fixtures import memory_metrics
from harness.report import html, plots

pytestmark = pytest.mark.hil


def _reference_of(metric: str) -> tuple[str, int]:
    """'rmse_vs_float[1]' -> ('float', 1)"""
    ref = metric.split("_vs_", 1)[1] if "_vs_" in metric else ""
    name, _, rest = ref.partition("[")
    return name, int(rest.rstrip("]")) if rest else 0


def test_gate(gate: Gate, request, validation, dut, extras, record_property):
    metrics = {**validation.metrics, **memory_metrics(dut)}
    if gate.metric.startswith("latency_"):
        latency = request.getfixturevalue("device_latency")
        metrics.update(latency.metrics())
    result = gate.judge(metrics.get(gate.metric))
    if result.value is not None:
        record_property(gate.metric, result.value)  # into the JUnit XML
    extras.append(html_extras.html(html.table([[result.message()]], caption="gate")))
    ref, output = _reference_of(gate.metric)
    comparison = validation.find(ref, output)
    if comparison is not None:
        extras.append(html_extras.html(html.mapping_table(comparison.named(), caption=f"vs {ref}")))
        if comparison.errors_steps is not None:
            png = plots.error_histogram(comparison.errors_steps, f"output {output} vs {ref}")
            extras.append(html_extras.html(html.image(png, f"error histogram vs {ref}")))
        if comparison.confusion is not None and (
            "top1" in gate.metric or "accuracy" in gate.metric
        ):
            png = plots.confusion(
                comparison.confusion,
                f"confusion vs {ref}",
                "true class" if ref == "labels" else f"{ref} class",
            )
            extras.append(html_extras.html(html.image(png, f"confusion matrix vs {ref}")))
    if result.passed is None:
        pytest.skip(result.message())
    if not result.passed:
        pytest.fail(result.message())
