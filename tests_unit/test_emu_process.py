"""QEMU's life: it never outlives the session, and a firmware that dies says how."""

from __future__ import annotations

import gc
import shutil

import pytest

from harness.boards.catalog import load_catalog
from harness.emu.build import build_elf, emu_flags
from harness.emu.protocol_image import start_protocol_device
from harness.emu.qemu import start_qemu
from harness.emu.toolchain import Toolchain, board_flags
from harness.errors import FlashError
from harness.firmware.pins import resolve_pins
from harness.paths import firmware_dir

SPEC = load_catalog()["nano33"]


def test_qemu_stops_on_close_and_when_forgotten(tmp_path):
    qemu = start_protocol_device(SPEC, tmp_path / "a.log")
    proc = qemu.proc
    qemu.stop()
    assert proc.poll() is not None
    forgotten = start_protocol_device(SPEC, tmp_path / "b.log").proc
    gc.collect()  # the QemuProcess was dropped at once: its finalizer kills the group
    assert forgotten.wait(timeout=10) is not None


def test_a_firmware_fault_is_reported_with_the_exception(tmp_path):
    """A firmware that faults at boot never answers: the start fails as `flash`, naming the
    fault QEMU exited with (the emulation layer's fault handler ends it through semihosting)."""
    project = tmp_path / "fault"
    shutil.copytree(firmware_dir() / "src" / "emu", project / "src" / "emu")
    (project / "src" / "fault.c").write_text(
        "int main(void) { return *(volatile int *)0xFFFFFFF0u; }  /* no memory there */\n"
    )
    flags = emu_flags(board_flags(SPEC.emulation, resolve_pins()), "mps2-an386")  # type: ignore[arg-type]
    elf = build_elf(
        project, ["src/emu/startup.c", "src/fault.c"], flags, Toolchain.find(),
        [project / "src" / "emu"], [],
        tmp_path / "build.log",
    )  # fmt: skip
    with pytest.raises(FlashError, match=r"did not answer.*CPU fault \(HardFault\)"):
        start_qemu(elf, "mps2-an386", tmp_path / "qemu.log")
