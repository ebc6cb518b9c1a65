"""A hardware cell's first stage: the firmware compiled against the cell's Arduino core and TFLM
library ref (``tflm-hil firmware check``, harness/firmware/check.py), before any board.

Its outcomes: ``install`` when the core or the library is not fetched (the error names the
commands); ``build`` with the first error when a file does not compile (ours first); else
nothing, and the cell goes on to a board. Without a board to run on (no PlatformIO, or no such
board attached), the cell stops at ``compiles``: a named stage short of ``pass``.
"""

from __future__ import annotations

from pathlib import Path

from ...boards.catalog import BoardSpec
from ...boards.discovery import attached_ports, role_of
from ...errors import BuildError, HilError
from ...firmware.arduino_core import fetch_core_command, find_core
from ...firmware.check import check_firmware
from ...firmware.library import fetch_command, find_library
from ...firmware.pins import Pins
from ...pio.cmd import pio_command
from ...tflite.model import TfliteModel
from .axes import Pinned
from .classify import Verdict

NOT_FETCHED = "not-fetched"


def not_fetched(pins: Pins, core: Pinned, ref: Pinned) -> Verdict | None:
    missing = []
    if find_core(pins.arduino_core) is None:
        missing.append(f"ArduinoCore-mbed {core.value}: `{fetch_core_command(core.value)}`")
    if find_library(pins.tflm_ref) is None:
        missing.append(f"the TFLM library at {ref.id}: `{fetch_command(ref.value, explicit=True)}`")
    if not missing:
        return None
    return Verdict(
        "install",
        "check",
        error="not fetched: " + "; ".join(missing) + " (add --from URL_OR_GIT_DIR for a mirror)",
        category=NOT_FETCHED,
    )


def run_check(
    spec: BoardSpec, pins: Pins, core: Pinned, ref: Pinned, tflite: Path, work: Path
) -> tuple[Verdict | None, dict[str, object]]:
    """(the verdict when the check decides the cell, else None; the check's report)."""
    missing = not_fetched(pins, core, ref)
    if missing is not None:
        return missing, {}
    try:
        report = check_firmware(
            spec, pins, TfliteModel.load(tflite), work=work / "check", emit=lambda line: None
        )
    except HilError as exc:
        return Verdict("build", "check", error=str(exc), category=exc.category), {}
    summary = report.to_dict()
    if report.failed_files:
        return Verdict("build", "check", error=report.first_error(), category="compile"), summary
    return None, summary


def nothing_to_run_on(spec: BoardSpec) -> Verdict | None:
    """``compiles`` when no board can run the cell here, saying why; None when one can."""
    why = ""
    try:
        pio_command()  # as the board's driver finds PlatformIO
    except BuildError:
        why = "PlatformIO is not installed (pip install 'tflm-hil[pio]')"
    if not why and not any(role_of(spec, p) for p in attached_ports()):
        why = f"no {spec.name} ({spec.usb_app}) is attached"
    if not why:
        return None
    return Verdict(
        "compiles",
        "check",
        error=f"compiled against the core, nothing ran: {why}",
        category="no-board",
    )
