"""On-device latency and memory. Latency lands in pytest-benchmark's JSON in device time, so
``--benchmark-save`` / ``--benchmark-compare`` / ``--benchmark-compare-fail`` gate regressions
across runs; the test id says where the figures come from: measured (a board), emulated (QEMU:
instructions at the board's clock) or estimated (the twin's cost model)."""

from __future__ import annotations

import numpy as np
import pytest
from pytest_html import extras as html_extras

from harness.latency import DEVICE_CLOCK
from harness.latency_model.estimate import estimate
from harness.plugin.fixtures import memory_metrics
from harness.provenance import Provenance
from harness.report import html, layers, plots

pytestmark = pytest.mark.hil

# What the device's "cycles" are, per provenance (docs/emulated.md for the emulated ones).
COUNTS = {
    Provenance.MEASURED: "CPU cycles (DWT cycle counter), or microseconds where a core has none",
    Provenance.EMULATED: "instructions executed on QEMU, reported at the board's nominal clock "
    "as if one instruction took one cycle: not cycles (no wait states, no pipeline stalls)",
    Provenance.ESTIMATED: "cycles from the twin's cost model",
}


@pytest.mark.benchmark(timer=DEVICE_CLOCK, group="device latency", disable_gc=False)
def test_latency(
    benchmark, device_kind, device_latency, dut, extras, pytestconfig, record_property
):
    lat = device_latency
    # the benchmark's name promised a provenance; the device's handshake must agree with it
    assert device_kind.endswith(f"-{lat.provenance}"), (device_kind, lat.provenance)
    assert len(lat.cycles) == pytestconfig.option.bench_runs
    assert np.all(lat.cycles > 0), "a run took no cycles: the cycle counter is not running"
    replay = iter(lat.seconds.tolist())
    benchmark.pedantic(lambda: DEVICE_CLOCK.advance(next(replay)), rounds=len(lat.cycles))
    figures = lat.metrics()
    for name in ("latency_us_median", "latency_us_p95", "latency_cycles_median"):
        record_property(name, figures[name])
    record_property("latency_provenance", str(lat.provenance))
    benchmark.extra_info.update(
        {
            "unit": "device seconds",
            "provenance": str(lat.provenance),
            "counts": COUNTS[lat.provenance],
            "clock_hz": lat.clock_hz,
            "warmup_runs": lat.warmup,
            **{k: v for k, v in figures.items() if k.startswith("latency_cycles")},
            **memory_metrics(dut),
            "stack_used_bytes": dut.info.stack_used or "not measured",
        }
    )
    caption = f"latency ({lat.provenance.note})"
    extras.append(html_extras.html(html.mapping_table(figures, caption=caption)))
    if lat.provenance is Provenance.ESTIMATED:  # one deterministic figure: its band, no histogram
        board = dut.image.board
        band_us = estimate(dut.model, board.cpu, board=board.id).band_us(lat.clock_hz)
        benchmark.extra_info["estimate_band_us"] = list(band_us) if band_us else "no spread"
        us = float(np.median(lat.seconds)) * 1e6
        extras.append(html_extras.html(layers.estimate_band_html(us, band_us, device_kind)))
    else:
        png = plots.latency_histogram(
            lat.seconds * 1e6, f"{device_kind}: {len(lat.cycles)} runs", lat.provenance
        )
        extras.append(html_extras.html(html.image(png, "latency histogram")))


def test_memory_fits_the_board(described_dut, hil_record):
    dut = described_dut
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
        provenance=image.provenance,
    )
    hil_record(
        "ram_headroom_bytes",
        board.ram_bytes - image.ram_bytes,
        unit="B",
        provenance=image.provenance,
    )


def test_per_operator_counts(described_dut, hil_model, hil_vectors, hil_record, extras):
    """The device's count for each operator of one inference, in execution order: TFLM's
    profiler on a board (cycles) or the emulated board (instructions), the cost model's
    estimate on the twin. Each is stored with its provenance."""
    dut = described_dut
    result = dut.benchmark(hil_vectors.payload(0), runs=1, warmup=0)
    ops = dut.op_profile()
    model_ops = [op.name for op in hil_model.ops]
    assert ops, "the device kept no per-operator counts"
    # the firmware keeps the first 128 operators (HIL_MAX_PROFILED_OPS)
    assert len(ops) == len(model_ops) or len(ops) >= 128, (len(ops), len(model_ops))
    assert [op.name for op in ops] == model_ops[: len(ops)]
    total = sum(op.cycles for op in ops)
    assert 0 < total <= result.cycles[0], (total, result.cycles)
    label = dut.info.provenance
    for op in ops:
        hil_record(
            f"op_cycles_{op.index:03d}_{op.name}", op.cycles, unit="cycles", provenance=label
        )
    extras.append(html_extras.html(layer_report(dut, hil_model, ops, label)))


def layer_report(dut, model, ops, label: Provenance) -> str:
    """The per-layer table and bar chart: the device's counts (measured or emulated) beside
    the twin's cost-model estimate, each in its own column and bar, never merged."""
    board = dut.image.board
    est = estimate(model, board.cpu, board=board.id).layers
    rows = []
    for op in ops:
        us = {Provenance.ESTIMATED: est[op.index].cycles * 1e6 / board.clock_hz}
        if label is not Provenance.ESTIMATED:
            us[label] = op.cycles * 1e6 / dut.info.clock_hz
        rows.append(layers.LayerRow(op.index, op.name, est[op.index].layer.family, us))
    chart = layers.layer_chart(rows, f"{board.id}: per-layer latency")
    return layers.layer_table(rows) + html.image(chart, "per-layer latency")
