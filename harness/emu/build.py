"""Compiles and links an image for an emulated board from a written project copy.

Both images for QEMU go through here: the firmware image (harness/emu/image.py: the board's
sources with TFLM) and the protocol-only image (harness/emu/protocol_image.py). Their one
difference from the board's firmware is the emulation layer (firmware/src/emu/) in place of
the Arduino core and src/arduino/. What each compiles is its entry of firmware/images.toml.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path

from ..firmware.images import FirmwareImage
from .qemu import ICOUNT_SHIFT
from .toolchain import CompileJob, Flags, Toolchain, compile_objects, run_tool

EMU_DIR = "src/emu"  # start-up, linker script, Serial and main() for src/app/main.cpp
LINKER_SCRIPT = f"{EMU_DIR}/mps2.ld"
LIBS = ("-lstdc++", "-lsupc++", "-lm", "-lc", "-lgcc", "-lnosys")  # PlatformIO's, for mbed


def _source_dirs(image: FirmwareImage) -> list[str]:
    return [*image.src, *(f"lib/{lib}/src" for lib in image.libs)]


def image_sources(image: FirmwareImage, project: Path) -> list[str]:
    """Every .c and .cpp the image links, project-relative (PlatformIO compiles the same)."""
    return [
        p.relative_to(project).as_posix()
        for folder in _source_dirs(image)
        for p in sorted((project / folder).glob("*.c*"))
        if p.suffix in (".c", ".cpp")
    ]


def include_dirs(image: FirmwareImage, project: Path) -> list[Path]:
    """The image's folders, and src/ for its generated headers (``generated/hil_image.h``)."""
    return [project / "src", *(project / folder for folder in _source_dirs(image))]


def emu_flags(flags: Flags, machine: str) -> Flags:
    """Our sources' flags on QEMU: the board's, plus what the emulation layer must know."""
    return flags.with_defines(
        f"HIL_EMU_ICOUNT_SHIFT={ICOUNT_SHIFT}",
        f'HIL_CORE_VERSION="none (emulated on QEMU {machine})"',
    )


def compile_project(
    project: Path,
    sources: Iterable[str],
    flags: Flags,
    toolchain: Toolchain,
    includes: Iterable[Path],
    log_path: Path,
    on_compiled: Callable[[Path], None] = lambda src: None,
) -> list[Path]:
    """Compiles ``sources`` (project-relative); returns their objects, in order."""
    jobs = [CompileJob(project / s, project / "obj" / f"{s.replace('/', '__')}.o") for s in sources]
    compile_objects(jobs, toolchain, flags, includes, log_path, lambda j: on_compiled(j.src))
    return [j.obj for j in jobs]


def link_elf(
    project: Path,
    objects: Iterable[Path],
    flags: Flags,
    toolchain: Toolchain,
    archives: Iterable[Path],
    log_path: Path,
) -> Path:
    """Links ``objects`` with ``archives`` into ``project/firmware.elf``."""
    elf = project / "firmware.elf"
    tmp = project / f"firmware.{os.getpid()}.elf"
    cmd = [
        toolchain.gxx, *flags.arch, "-nostartfiles", "--specs=nano.specs", "--specs=nosys.specs",
        "-T", str(project / LINKER_SCRIPT), "-Wl,--gc-sections",
        f"-Wl,-Map={project / 'firmware.map'}", "-o", str(tmp),
        *map(str, objects),
        "-Wl,--start-group", *map(str, archives), *LIBS, "-Wl,--end-group",
    ]  # fmt: skip
    run_tool(cmd, log_path, f"linking {elf}")
    tmp.replace(elf)
    return elf


def build_elf(
    project: Path,
    sources: Iterable[str],
    flags: Flags,
    toolchain: Toolchain,
    includes: Iterable[Path],
    archives: Iterable[Path],
    log_path: Path,
) -> Path:
    """Compiles ``sources`` (project-relative) and links them with ``archives``."""
    objects = compile_project(project, sources, flags, toolchain, includes, log_path)
    return link_elf(project, objects, flags, toolchain, archives, log_path)
