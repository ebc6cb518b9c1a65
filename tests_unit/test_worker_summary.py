"""pytest -n: the workers' summaries folded into one (harness/plugin/worker_summary.py): what
every board shares once, what differs per board, each plot from the first worker with it,
through the plain values execnet carries."""

from __future__ import annotations

import numpy as np

from harness.plugin.worker_summary import fold, to_plain
from harness.provenance import Provenance
from harness.report.summary import SummaryFigures


def _worker(instance: str, port: str, figures: SummaryFigures) -> dict:
    device = {"board": "nano33", "port": port}
    return to_plain(instance, device, {"host TFLM": "computed"}, figures)


def test_shared_values_once_differing_ones_per_board():
    timed = SummaryFigures(
        {"latency_us_median": 1923.5, "cosine_vs_float": 0.99},
        np.array([1923.5, 1924.0]),
        Provenance.ESTIMATED,
        latency_band_us=(1500.0, 2500.0),
    )
    compared = SummaryFigures(
        {"cosine_vs_float": 0.98},
        errors=(np.array([0.0, 1.0]), "float"),
        confusion=(np.array([[2, 0], [1, 3]]), "labels"),
    )
    device, references, figures = fold(
        [_worker("BBB", "/dev/ttyACM1", compared), _worker("AAA", "/dev/ttyACM0", timed)]
    )
    assert device == {
        "board_instance": "AAA, BBB",
        "board": "nano33",
        "port": "/dev/ttyACM0 (AAA); /dev/ttyACM1 (BBB)",
    }
    assert references == {"host TFLM": "computed"}
    assert figures.metrics == {
        "latency_us_median": 1923.5,
        "cosine_vs_float (AAA)": 0.99,
        "cosine_vs_float (BBB)": 0.98,
    }
    assert figures.latency_provenance is Provenance.ESTIMATED
    assert figures.latency_band_us == (1500.0, 2500.0)  # the band of the worker that timed
    assert figures.latency_us is not None and figures.latency_us.tolist() == [1923.5, 1924.0]
    assert figures.errors is not None and figures.errors[1] == "float"
    assert figures.confusion is not None and figures.confusion[0].tolist() == [[2, 0], [1, 3]]


def test_a_summary_without_latency_or_plots_stays_without():
    device, _, figures = fold([_worker("sim:nano33@gw0", "pty", SummaryFigures({"x": 1.0}))])
    assert device["board_instance"] == "sim:nano33@gw0" and device["port"] == "pty"
    assert figures.latency_us is None and figures.latency_provenance is None
    assert figures.latency_band_us is None
    assert figures.errors is None and figures.confusion is None
