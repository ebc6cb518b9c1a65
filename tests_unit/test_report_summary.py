"""The report's summary as a reader sees it: readable figures, and the device once."""

from __future__ import annotations

import re

import numpy as np

from harness.report.summary import SummaryFigures, summary_html

PYTEST_HTML_GREY = "#999999"  # pytest-html's page and results table (its style.css)


def contrast(foreground: str, background: str = "#ffffff") -> float:
    """WCAG 2 contrast ratio of two sRGB colours (#rrggbb)."""

    def luminance(colour: str) -> float:
        rgb = [int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
        lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    hi, lo = sorted((luminance(foreground), luminance(background)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def full(colour: str) -> str:
    return "#" + "".join(c * 2 for c in colour[1:]) if len(colour) == 4 else colour


def test_the_figures_are_dark_on_white():
    """pytest-html's grey (2.8:1) fails WCAG's 4.5:1 for text; the tables set their own."""
    assert contrast(PYTEST_HTML_GREY) < 4.5
    page = "".join(summary_html({"board": "sim:nano33"}, {"host": "computed"},
                                SummaryFigures(metrics={"cosine_vs_float": 0.99})))
    rules = dict(re.findall(r"^(table\.tflm-hil[^{]*)\{([^}]*)\}", page, re.M))
    (colour,) = re.findall(r"(?<![-\w])color:\s*(#[0-9a-fA-F]{3,6})", rules["table.tflm-hil "])
    assert contrast(full(colour)) >= 7  # WCAG AAA
    # and nothing inside the tables sets a lighter one
    inner = " ".join(v for k, v in rules.items() if k.strip() != "table.tflm-hil")
    assert not re.search(r"(?<![-\w])color:", inner)


def test_the_device_table_is_in_the_summary_once():
    device = {"board": "sim:nano33", "arena_used": "5792 of 7408 bytes"}
    page = "".join(summary_html(device, {}, SummaryFigures(
        metrics={"latency_us_median": 1923.5}, confusion=(np.eye(3, dtype=int), "labels"))))
    assert page.count("<caption>tflm-hil device</caption>") == 1
