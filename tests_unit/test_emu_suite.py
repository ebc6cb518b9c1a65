"""The HIL suite on the emulated Nano 33 BLE (``--board=qemu:nano33``), run as a user runs it.

Without the TFLM library fetched, the run stops at once as an infrastructure failure naming
the fetch command (this runs everywhere). With it (``tflm-hil firmware fetch``), the real
firmware image runs on QEMU: it passes, its counts repeat exactly, it compiles the library
once, and it catches what the twin's newer kernels cannot: the pinned library's per-channel
FULLY_CONNECTED (those tests skip, naming the command, where the library is not fetched)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from harness.boards.catalog import load_catalog
from harness.emu.build import image_sources
from harness.emu.image import EmuImageBuilder
from harness.firmware.images import firmware_image
from harness.firmware.library import fetch_command, find_library
from harness.firmware.pins import resolve_pins
from harness.paths import cache_dir, firmware_dir
from harness.provenance import Provenance
from harness.results.store import ResultsStore
from harness.tflite.model import TfliteModel

from .conftest import DIGITS_KERAS, DIGITS_MODEL, DIGITS_VECTORS, ZOO
from .published_models import SOURCES, published_model
from .test_hil_suite import run_suite

REF = resolve_pins().tflm_ref
needs_library = pytest.mark.skipif(
    find_library(REF) is None,
    reason=f"the TFLM library at {REF[:12]} is not in {cache_dir()}: run `{fetch_command(REF)}`",
)


def test_refused_options_are_named_before_anything_is_built(tmp_path):
    port = run_suite(tmp_path, "--board=qemu:nano33", "--port", "/dev/ttyACM0")
    assert port.returncode == 4, port.stdout[-2000:]
    assert "qemu:nano33 is emulated on QEMU: --port and --board-serial" in port.stdout
    none = run_suite(tmp_path, "--board=qemu:nanorp2040")
    assert none.returncode == 4
    assert "nanorp2040 declares no emulation target" in none.stdout
    assert "qemu:nano33, qemu:nano33rev2" in none.stdout


def test_no_library_source_stops_the_run_naming_the_fetch_command(tmp_path):
    run = run_suite(tmp_path, "--board=qemu:nano33")  # an empty cache: nothing fetched
    assert run.returncode == 6, run.stdout[-3000:]
    assert "[build] (infrastructure)" in run.stdout
    assert f"`{fetch_command(REF)}`" in run.stdout
    assert "Interrupted: tflm-hil: no device to test (build)" in run.stdout
    assert " passed" not in run.stdout.splitlines()[-1]


def latency_counts(db: Path) -> dict[str, tuple[float, Provenance]]:
    store = ResultsStore(db)
    try:
        run = store.runs()[-1]["id"]
        return {
            m.name: (m.value, m.provenance)
            for m in store.metrics(run_id=run)
            if m.name.startswith("latency_cycles") or m.name == "arena_used_bytes"
        }
    finally:
        store.close()


@needs_library
def test_the_suite_passes_with_counts_identical_across_runs(tmp_path):
    figures = []
    for n in (1, 2):
        out = tmp_path / f"run{n}"
        run = run_suite(out, "--board=qemu:nano33", "--property-examples", "5", cache=cache_dir())
        assert run.returncode == 0, run.stdout[-3000:]
        assert "(nano33, emulated)" in run.stdout
        assert re.search(r"test_latency\[qemu_nano33-emulated\]", run.stdout)
        figures.append(latency_counts(out / "results.sqlite"))
    assert figures[0] == figures[1]
    assert figures[0]["latency_cycles_median"][0] > 0
    assert {p for _, p in figures[0].values()} == {Provenance.EMULATED}
    arena = re.search(r"arena_used: (\d+) of (\d+) bytes", run.stdout)
    assert arena and figures[0]["arena_used_bytes"][0] == float(arena.group(1)) > 0


@needs_library
def test_a_second_image_compiles_no_library_object(tmp_path):
    builder = EmuImageBuilder(
        load_catalog()["nano33"],
        label="qemu:nano33",
        log_dir=tmp_path,
        images_dir=tmp_path / "images",  # new images; the library's objects in the user cache
        emit=lambda line: None,
    )
    first = builder.build(TfliteModel.load(DIGITS_MODEL))  # the library compiles here, if ever
    other = builder.build(TfliteModel.load(ZOO / "fc_only.tflite"))
    assert not first.extra["reused"] and not other.extra["reused"]
    # our sources (the core, the glue, the backend, the emulation layer) and the generated ones
    ours = image_sources(firmware_image("emu"), firmware_dir())
    assert len(ours) >= 7 and other.extra["compiled"] > len(ours)
    assert other.extra["library"]["compiled"] == 0
    assert other.extra["library"]["cached"] > 100
    assert other.provenance is Provenance.EMULATED


@needs_library
def test_per_channel_dense_digits_fail_bit_exactness_with_the_error_in_steps(tmp_path):
    """The pinned library runs per-channel FULLY_CONNECTED weights with one scale: the
    emulated board computes other answers than the TFLM host runtime, and says how far off."""
    from harness.model.convert import convert_int8

    calibration = np.load(DIGITS_VECTORS)["x_float"].reshape(-1, 8, 8, 1)[:200]
    model = tmp_path / "digits_per_channel.tflite"
    model.write_bytes(convert_int8(DIGITS_KERAS, calibration, per_channel_dense=True))
    assert TfliteModel.load(model).tensors  # a valid model
    run = run_suite(
        tmp_path,
        "--board=qemu:nano33",
        "--model", str(model),
        "--vectors", str(DIGITS_VECTORS),
        "--reference", str(DIGITS_KERAS),
        "-k", "bit_for_bit",
        cache=cache_dir(),
    )  # fmt: skip
    assert run.returncode == 1, run.stdout[-3000:]
    m = re.search(r"vectors differ from the TFLM host runtime, largest error (\d+) quantisation "
                  r"steps", run.stdout)
    assert m, run.stdout[-3000:]
    assert int(m.group(1)) > 1


@needs_library
@pytest.mark.parametrize("name", sorted(SOURCES))
def test_published_models_match_the_host_runtime_bit_for_bit(tmp_path, name):
    """Person detection and keyword spotting, as published with the library: per-tensor int8
    models that the emulated board must answer exactly as the TFLM host runtime does."""
    checkout = find_library(REF)
    assert checkout is not None
    model = published_model(checkout, name, tmp_path)
    if model is None:
        pytest.skip(
            f"{checkout.url} did not supply {SOURCES[name]} at {REF[:12]}: fetch the library from "
            "a repository that has its examples (`tflm-hil firmware fetch --from URL_OR_GIT_DIR`)"
        )
    run = run_suite(
        tmp_path,
        "--board=qemu:nano33",
        "--model", str(model),
        "--property-examples", "3",
        "--bench-runs", "5",
        "--bench-warmup", "1",
        "-k", "handshake or bit_for_bit or latency or every_vector",
        cache=cache_dir(),
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:]
    assert "(nano33, emulated)" in run.stdout
    assert re.search(r"arena_used: [1-9]\d* of \d+ bytes", run.stdout)
