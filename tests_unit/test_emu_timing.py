"""The emulated board's clock, on the protocol-only image (real Cortex-M4 code on QEMU): its
counts are instructions, exact to the instruction, and the same on every run."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from harness.boards.catalog import load_catalog
from harness.emu.driver import LINK_BYTES_PER_S
from harness.emu.protocol_image import (
    INPUT_SHAPE,
    build_protocol_image,
    spin_instructions,
    start_protocol_device,
)
from harness.protocol.constants import Flag
from harness.provenance import Provenance

from .conftest import connect

SPEC = load_catalog()["nano33"]
FIRST_BYTES = (0, 1, 7, 100)


def counts(log: Path) -> tuple[dict, dict[int, tuple[int, ...]]]:
    """One QEMU run: the handshake, and the per-invoke counts of a benchmark for each x[0]."""
    with start_protocol_device(SPEC, log) as qemu:
        client = connect(qemu.port, LINK_BYTES_PER_S, reply_timeout=2.0)
        info = client.hello()
        out = {}
        for first in FIRST_BYTES:
            x = np.zeros(INPUT_SHAPE, dtype=np.int8)
            x[0, 0] = first
            out[first] = client.benchmark(x.tobytes(), runs=6, warmup=1).cycles
        client.link.close()  # type: ignore[attr-defined]
    return {"flags": info.flags, "clock_hz": info.clock_hz, "boot_id": info.boot_id,
            "provenance": info.provenance}, out


def test_counts_are_instructions_exact_and_repeatable(tmp_path):
    first_run, counts_a = counts(tmp_path / "a.log")
    second_run, counts_b = counts(tmp_path / "b.log")
    # the handshake says what the counts are: emulated, at the board's nominal clock
    assert first_run["flags"] & Flag.EMULATED and not first_run["flags"] & Flag.CLOCK_ESTIMATED
    assert first_run["provenance"] is Provenance.EMULATED
    assert first_run["clock_hz"] == SPEC.clock_hz
    # every invoke of one input takes as many instructions, and two QEMU runs agree exactly
    assert counts_a == counts_b
    assert all(len(set(c)) == 1 for c in counts_a.values()), counts_a
    # the test backend's loop adds 2 instructions per iteration, 1000 iterations per unit of
    # x[0]: the counts differ by exactly that (the timer's 40 ns ticks may round one off)
    base = counts_a[0][0]
    for first in FIRST_BYTES:
        x = np.zeros(INPUT_SHAPE, dtype=np.int8)
        x[0, 0] = first
        assert abs(counts_a[first][0] - base - spin_instructions(x)) <= 1, (first, counts_a)
    # each QEMU run seeds its boot id afresh
    assert first_run["boot_id"] != second_run["boot_id"]


def test_the_protocol_image_builds_warning_free(tmp_path, monkeypatch):
    """Our sources (core, main.cpp, the emulation layer) with the board's -Wall -Wextra."""
    monkeypatch.setenv("TFLM_HIL_CACHE", str(tmp_path))
    elf = build_protocol_image(SPEC, log_dir=tmp_path / "logs")
    assert elf.is_file()
    log = (tmp_path / "logs" / "emu-build-protocol.log").read_text()
    assert "main.cpp" in log and "board_support_emu.cpp" in log
    assert "warning:" not in log, log
