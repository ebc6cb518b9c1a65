"""The portable device libraries (every module: the protocol core, the MLPerf peer, the data
forwarder, the number formatter) compile warning-free, with strict warnings, for the host
and for the boards' Cortex-M cores."""

from __future__ import annotations

import subprocess

import pytest

from harness.paths import firmware_dir, firmware_lib_dir

from .arm_elf import require_arm_gcc

WARNINGS = ["-Wall", "-Wextra", "-Wpedantic", "-Wconversion", "-Wshadow", "-Werror"]
TARGETS = {
    # the simulated twin's build of the same sources
    "host": ["-std=c99", "-O2"],
    # the CI line: Cortex-M4 with the hardware float ABI
    "cortex-m4-hard": [
        "-mcpu=cortex-m4",
        "-mthumb",
        "-mfloat-abi=hard",
        "-mfpu=fpv4-sp-d16",
        "-std=c99",
        "-O2",
    ],
    # what ArduinoCore-mbed builds C with for the Nano 33 BLE (variant cflags.txt)
    "nano33ble-core": [
        "-mcpu=cortex-m4",
        "-mthumb",
        "-mfloat-abi=softfp",
        "-mfpu=fpv4-sp-d16",
        "-std=gnu11",
        "-Os",
        "-funsigned-char",
        "-ffunction-sections",
        "-fdata-sections",
    ],
    "cortex-m0plus": ["-mcpu=cortex-m0plus", "-mthumb", "-std=c99", "-Os"],
    "cortex-m7": [
        "-mcpu=cortex-m7",
        "-mthumb",
        "-mfloat-abi=hard",
        "-mfpu=fpv5-d16",
        "-std=c99",
        "-O2",
    ],
}
ENTRY_POINTS = {
    "hil_core_init",
    "hil_core_feed",
    "hil_core_announce",
    "hil_core_note_overflow",
    "hil_crc32",
}


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_core_library_compiles_warning_free(tmp_path, target):
    gcc = "cc" if target == "host" else require_arm_gcc()
    nm_tool = "nm" if target == "host" else "arm-none-eabi-nm"
    libs = sorted((firmware_dir() / "lib").glob("*/src"))
    sources = sorted(src for lib in libs for src in lib.glob("*.c"))  # every library's modules
    assert {"hil_core.c", "hil_mlperf.c", "hil_forwarder.c", "hil_text.c"} <= {
        s.name for s in sources
    }
    includes = [f"-I{lib}" for lib in libs]
    defined: set[str] = set()
    for src in sources:
        obj = tmp_path / f"{src.stem}.o"
        run = subprocess.run(
            [gcc, *TARGETS[target], *WARNINGS, *includes, "-c", str(src), "-o", str(obj)],
            capture_output=True,
            text=True,
        )
        assert run.returncode == 0 and run.stderr == "", f"{src.name} ({target}):\n{run.stderr}"
        nm = subprocess.run(
            [nm_tool, "--defined-only", str(obj)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        defined |= {ln.split()[-1] for ln in nm.splitlines() if " T " in ln}
    assert defined >= ENTRY_POINTS


def test_core_needs_no_heap_and_no_stdio(tmp_path):
    """No malloc/printf: the core must link into any firmware, with or without a C library."""
    gcc = require_arm_gcc()
    obj = tmp_path / "hil_core.o"
    src = firmware_lib_dir("hil_core") / "hil_core.c"
    subprocess.run(
        [gcc, *TARGETS["cortex-m4-hard"], "-c", str(src), "-o", str(obj)],
        check=True,
    )
    nm = subprocess.run(
        ["arm-none-eabi-nm", "--undefined-only", str(obj)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    undefined = {ln.split()[-1] for ln in nm.splitlines() if ln.strip()}
    assert undefined <= {"memcpy", "memset", "strlen"}, undefined
