"""The hardware matrix's core axis: each cell compile-checked against its Arduino core and TFLM
library ref before any board: `install` naming the fetch commands, `build` with the first
error, `compiles` where nothing can run it. The check itself is `tflm-hil firmware check`
(tests_unit/test_firmware_check.py compiles for real); here its report is given, to pin down
what each report makes of the cell."""

from __future__ import annotations

import json

import pytest

from harness.apps.matrix import check_step
from harness.apps.matrix.axes import load_axes
from harness.apps.matrix.cell import Places, run_hw_cell
from harness.apps.matrix.report import render
from harness.apps.matrix.result import read_result
from harness.boards.catalog import load_catalog
from harness.boards.discovery import AttachedPort
from harness.firmware.arduino_core import fetch_core_command, find_core
from harness.firmware.check import CheckReport, Diagnostic
from harness.firmware.library import fetch_command, find_library
from harness.pio import cmd as pio_cmd

NANO33 = load_catalog()["nano33"]


@pytest.fixture
def cell(tmp_path, monkeypatch):
    monkeypatch.setenv("TFLM_HIL_CACHE", str(tmp_path / "cache"))
    axes = load_axes()
    places = Places.under(tmp_path / "matrix")

    def run(core_id: str = "core460", ref_id: str = "lib2312"):
        core = next(c for c in axes.hardware.arduino_cores if c.id == core_id)
        out = tmp_path / f"{core_id}.json"
        run_hw_cell(axes, axes.model("digits"), "nano33", axes.tflm_ref(ref_id), core, out, places)
        return read_result(out)

    return run


def test_the_core_axis_spans_the_architecture_split_to_the_newest_core():
    versions = [c.value for c in load_axes().hardware.arduino_cores]
    assert versions[0] == "4.6.0" and "1.3.2" in versions and "2.5.2" in versions
    assert len(versions) >= 3


def test_a_core_not_fetched_is_install_naming_both_fetch_commands(cell):
    result = cell()
    assert (result.status, result.stage, result.category) == ("install", "check", "not-fetched")
    assert "`tflm-hil firmware fetch-core --arduino-core 4.6.0`" in result.error
    assert "tflm-hil firmware fetch --ref 7948b85e020470a30a83bf00e10fc43b486bfcba" in result.error


def _checked(monkeypatch, report: CheckReport) -> None:
    """The core and library fetched, the check giving ``report``, PlatformIO there, no board."""
    monkeypatch.setattr(check_step, "not_fetched", lambda pins, core, ref: None)
    monkeypatch.setattr(check_step, "check_firmware", lambda *a, **kw: report)
    monkeypatch.setattr(check_step, "pio_command", lambda: ["/usr/bin/pio"])
    monkeypatch.setattr(check_step, "attached_ports", lambda: [])


def test_a_file_that_does_not_compile_is_build_with_the_first_error_ours_first(cell, monkeypatch):
    report = CheckReport("nano33", "nano33ble", "1.3.2", "mbed", "7948b85e")
    report.failed_files = ["/cache/libraries/tflm/x/src/a.cc", "src/board_support.cpp"]
    report.third_party = [Diagnostic("/cache/libraries/tflm/x/src/a.cc", 3, "error", "lib")]
    report.our_diagnostics = [
        Diagnostic("src/board_support.cpp", 9, "warning", "unused"),
        Diagnostic("src/board_support.cpp", 48, "error", "'NRF_RNG' was not declared"),
    ]
    report.log = "/cache/check.log"
    _checked(monkeypatch, report)
    result = cell("core132")
    assert (result.status, result.stage, result.category) == ("build", "check", "compile")
    assert result.error == "src/board_support.cpp:48: error: 'NRF_RNG' was not declared"
    assert result.details["check"]["errors"] == 1 and result.details["check"]["warnings"] == 1
    assert result.logs["check"] == "/cache/check.log"


def test_a_clean_check_without_a_board_stops_at_compiles(cell, monkeypatch, tmp_path):
    report = CheckReport("nano33", "nano33ble", "4.6.0", "mbed_nano", "7948b85e")
    report.ours, report.library_files = ["src/main.cpp"], 215
    report.not_done = ["not linked: ..."]
    _checked(monkeypatch, report)
    result = cell()
    assert (result.status, result.stage, result.category) == ("compiles", "check", "no-board")
    assert "nothing ran: no Arduino Nano 33 BLE / BLE Sense (2341:805a) is attached" in result.error
    page = render([result], axes=load_axes())
    assert "compiled against the Arduino core and library; no board ran it" in page
    json.dumps(result.details["check"])


def test_without_platformio_the_reason_says_so(monkeypatch):
    monkeypatch.setenv("TFLM_HIL_PIO", "")
    monkeypatch.setattr(pio_cmd.importlib.util, "find_spec", lambda name: None)
    monkeypatch.setattr(pio_cmd.shutil, "which", lambda name: None)
    verdict = check_step.nothing_to_run_on(NANO33)
    assert verdict is not None and "PlatformIO is not installed" in verdict.error


def test_a_board_attached_goes_on_to_the_suite(monkeypatch):
    monkeypatch.setattr(check_step, "pio_command", lambda: ["/usr/bin/pio"])
    port = AttachedPort("/dev/ttyACM0", 0x2341, 0x805A, "A1B2C3D4E5F60718")
    monkeypatch.setattr(check_step, "attached_ports", lambda: [port])
    assert check_step.nothing_to_run_on(NANO33) is None


AXES = load_axes()
CORE132 = next(c for c in AXES.hardware.arduino_cores if c.id == "core132")
LIB2312 = AXES.tflm_ref("lib2312")


@pytest.mark.skipif(
    find_core(CORE132.value) is None or find_library(LIB2312.value) is None,
    reason=f"run `{fetch_core_command(CORE132.value)}` and "
    f"`{fetch_command(LIB2312.value, explicit=True)}`",
)
def test_a_board_the_core_does_not_have_yet_is_build_naming_it(tmp_path):
    """The real check on the fetched core 1.3.2, which predates the Nano RP2040 Connect: the cell
    is ``build`` before anything compiles, its error naming the board and the core's boards."""
    out = tmp_path / "cell.json"
    places = Places.under(tmp_path / "matrix")
    run_hw_cell(AXES, AXES.model("digits"), "nanorp2040", LIB2312, CORE132, out, places)
    result = read_result(out)
    assert (result.status, result.stage, result.category) == ("build", "check", "config")
    assert "ArduinoCore-mbed 1.3.2 has no board 'nanorp2040connect' in boards.txt" in result.error
    assert "nano33" in result.error  # the boards it does have
