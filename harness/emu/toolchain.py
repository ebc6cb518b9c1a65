"""The compile flags of an emulated board (the toolchain and its parallel compiles are
harness/firmware/cross.py).

The flags are the board's PlatformIO build's (harness/data/emulation.toml, the catalog's CPU
flags, platformio.ini's [env] -D flags), so the library and our sources compile as on the
board.
"""

from __future__ import annotations

import re
import tomllib
from functools import cache
from importlib import resources
from pathlib import Path

from ..boards.catalog import EmulationSpec
from ..errors import ConfigError
from ..firmware.cross import (  # the toolchain itself is shared with the firmware check
    AR,
    C_SUFFIXES,
    CXX_SUFFIXES,
    DEBIAN_PACKAGES,
    GCC,
    GXX,
    CompileJob,
    Flags,
    Toolchain,
    compile_objects,
    run_tool,
)
from ..firmware.pins import Pins, read_platformio_ini

__all__ = [
    "AR",
    "CXX_SUFFIXES",
    "C_SUFFIXES",
    "DEBIAN_PACKAGES",
    "GCC",
    "GXX",
    "CompileJob",
    "Flags",
    "Toolchain",
    "arch_flags",
    "board_flags",
    "compile_objects",
    "platformio_defines",
    "run_tool",
]  # fmt: skip


@cache
def _builds() -> dict[str, dict]:
    text = resources.files("harness").joinpath("data/emulation.toml").read_text()
    return tomllib.loads(text)["builds"]


def arch_flags(emu: EmulationSpec) -> tuple[str, ...]:
    return (f"-mcpu={emu.cpu}", "-mthumb", f"-mfloat-abi={emu.float_abi}", f"-mfpu={emu.fpu}")


_DEFINE_RE = re.compile(r"^-D\s*(\S+)$")


def platformio_defines(pins: Pins, ini: Path | None = None) -> tuple[str, ...]:
    """The -D flags of platformio.ini's [env] build_flags, the pins filled in."""
    raw = read_platformio_ini(ini).get("env", "build_flags", fallback="")
    out = []
    for line in raw.splitlines():
        line = line.strip()
        if not (m := _DEFINE_RE.match(line)):
            continue
        value = m.group(1).replace("${hil.tflm_ref}", pins.tflm_ref)
        value = value.replace("${hil.arduino_core}", pins.arduino_core)
        out.append(value.replace('\\"', '"'))
    return tuple(out)


def board_flags(emu: EmulationSpec, pins: Pins) -> Flags:
    """What the board's PlatformIO build compiles the project and its libraries with."""
    try:
        build = _builds()[emu.build]
    except KeyError:
        raise ConfigError(
            f"the catalog names emulation build {emu.build!r}, which harness/data/emulation.toml "
            f"does not define (it has {', '.join(sorted(_builds()))})"
        ) from None
    return Flags(
        arch=arch_flags(emu),
        common=tuple(build["common"]),
        c=tuple(build["c"]),
        cxx=tuple(build["cxx"]),
        defines=(*build["defines"], *emu.defines, *platformio_defines(pins)),
    )


