"""On-device latency and memory. Latency lands in pytest-benchmark's JSON in device time, so
``--benchmark-save`` / ``--benchmark-compare`` / ``--benchmark-compare-fail`` gate regressions
across runs; the test id says whether the figures are measured or estimated (the twin)."""

from __future__ import annotations

import numpy as np
import pytest
from pytest_html import extras as html_extras

from harness.bench.latency import DEVICE_CLOCK
from harness.fixtures import memory_metrics
from harness.report import html, plots

pytestmark = pytest.mark.hil


@pytest.mark.benchmark(timer=DEVICE_CLOCK, group="device latency", disable_gc=False)
def test_latency(
    benchmark, device_kind, device_latency, dut, extras, pytestconfig, record_property
):
    lat = device_latency
    assert len(lat.cycles) == pytestconfig.option.bench_runs
    assert np.all(lat.cycles > 0), "a run took no cycles: the cycle counter is not running"
    replay = iter(lat.seconds.tolist())
    benchmark.pedantic(lambda: DEVICE_CLOCK.advance(next(replay)), rounds=len(lat.cycles))
    figures = lat.metrics()
    for name in ("latency_us_median", "latency_us_p95", "latency_cycles_median"):
        record_property(name, figures[name])
    record_property("latency_estimated", lat.estimated)
    benchmark.extra_info.update(
        {
            "unit": "device seconds",
            "estimated": lat.estimated,
            "clock_hz": lat.clock_hz,
            "warmup_runs": lat.warmup,
            **{k: v for k, v in figures.items() if k.startswith("latency_cycles")},
            **memory_metrics(dut),
            "stack_used_bytes": dut.info.stack_used or "not measured",
        }
    )
    label = "estimated by the twin's cost model" if lat.estimated else "measured"
    extras.append(html_extras.html(html.mapping_table(figures, caption=f"latency ({label})")))
    png = plots.latency_histogram(
        lat.seconds * 1e6, f"{device_kind}: {len(lat.cycles)} runs", lat.estimated
    )
    extras.append(html_extras.html(html.image(png, "latency histogram")))


def test_memory_fits_the_board(dut, hil_record):
    board, info, image = dut.image.board, dut.info, dut.image
    assert 0 < info.arena_used <= info.arena_size
    assert image.flash_bytes <= board.flash_bytes, (
        f"image {image.flash_bytes} B > {board.flash_bytes} B of flash"
    )
    assert image.ram_bytes <= board.ram_bytes, f"RAM {image.ram_bytes} B > {board.ram_bytes} B"
    hil_record(
        "flash_headroom_bytes",
        board.flash_bytes - image.flash_bytes,
        unit="B",
        estimated=image.estimated,
    )
    hil_record(
        "ram_headroom_bytes", board.ram_bytes - image.ram_bytes, unit="B", estimated=image.estimated
    )
