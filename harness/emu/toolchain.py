"""Debian's arm-none-eabi toolchain: the compile flags of an emulated board and parallel compiles.

The flags are the board's PlatformIO build's (harness/data/emulation.toml, the catalog's CPU
flags, platformio.ini's [env] -D flags), so the library and our sources compile as on the
board. Compiles run in parallel, one job per CPU; every object is written under a temporary
name and renamed, so a killed build never leaves half an object behind.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import tomllib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

from ..boards.catalog import EmulationSpec
from ..errors import BuildError, ConfigError
from ..firmware.pins import Pins, read_platformio_ini

GCC, GXX, AR = "arm-none-eabi-gcc", "arm-none-eabi-g++", "arm-none-eabi-ar"
DEBIAN_PACKAGES = (
    "gcc-arm-none-eabi libnewlib-arm-none-eabi libstdc++-arm-none-eabi-newlib "
    "libstdc++-arm-none-eabi-dev"
)
C_SUFFIXES = (".c",)
CXX_SUFFIXES = (".cc", ".cpp")
ERROR_LINES = 12


@dataclass(frozen=True)
class Toolchain:
    gcc: str
    gxx: str
    ar: str
    version: str  # `arm-none-eabi-gcc --version`, first line: part of every cache key

    @classmethod
    def find(cls) -> Toolchain:
        found = [shutil.which(t) for t in (GCC, GXX, AR)]
        if not all(found):
            raise BuildError(
                f"the Arm toolchain ({GCC}, {GXX}) is missing: it builds the emulated board's "
                f"firmware. Install it: apt-get install {DEBIAN_PACKAGES} (or run ./dev setup)"
            )
        gcc, gxx, ar = (str(p) for p in found)
        version = subprocess.run(
            [gcc, "--version"], capture_output=True, text=True, check=False
        ).stdout.splitlines()
        return cls(gcc, gxx, ar, version[0] if version else "unknown")


@dataclass(frozen=True)
class Flags:
    arch: tuple[str, ...]
    common: tuple[str, ...]
    c: tuple[str, ...]
    cxx: tuple[str, ...]
    defines: tuple[str, ...]  # NAME or NAME=VALUE, without -D

    def for_source(self, src: Path) -> list[str]:
        lang = self.c if src.suffix in C_SUFFIXES else self.cxx
        return [*self.arch, *self.common, *lang, *(f"-D{d}" for d in self.defines)]

    def with_defines(self, *defines: str) -> Flags:
        names = {d.split("=", 1)[0] for d in defines}
        kept = tuple(d for d in self.defines if d.split("=", 1)[0] not in names)
        return Flags(self.arch, self.common, self.c, self.cxx, kept + tuple(defines))

    def digest(self, *extra: str) -> str:
        text = json.dumps([self.arch, self.common, self.c, self.cxx, self.defines, extra])
        return hashlib.sha256(text.encode()).hexdigest()


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


@dataclass(frozen=True)
class CompileJob:
    src: Path
    obj: Path


def compile_objects(
    jobs: Sequence[CompileJob],
    toolchain: Toolchain,
    flags: Flags,
    includes: Iterable[Path],
    log_path: Path,
    on_done: Callable[[CompileJob], None] = lambda job: None,
) -> None:
    """Compiles every job, os.cpu_count() at a time; compiler output goes to ``log_path``.

    A failed compile is a BuildError with its first error lines; the others still finish so
    their objects are cached.
    """
    incs = [f"-I{p}" for p in includes]
    log_path.parent.mkdir(parents=True, exist_ok=True)

    def one(job: CompileJob) -> tuple[CompileJob, list[str], subprocess.CompletedProcess]:
        tool = toolchain.gcc if job.src.suffix in C_SUFFIXES else toolchain.gxx
        job.obj.parent.mkdir(parents=True, exist_ok=True)
        tmp = job.obj.with_name(f"{job.obj.name}.{os.getpid()}.tmp")
        cmd = [tool, *flags.for_source(job.src), *incs, "-c", str(job.src), "-o", str(tmp)]
        run = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if run.returncode == 0:
            tmp.replace(job.obj)
        else:
            tmp.unlink(missing_ok=True)
        return job, cmd, run

    failed: list[str] = []
    with (
        log_path.open("a", encoding="utf-8") as log,
        concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool,
    ):
        for future in concurrent.futures.as_completed([pool.submit(one, j) for j in jobs]):
            job, cmd, run = future.result()
            log.write(f"$ {shlex.join(cmd)}\n{run.stdout}{run.stderr}")
            if run.returncode != 0:
                errors = [ln for ln in run.stderr.splitlines() if "error" in ln]
                failed.append(f"{job.src}:\n" + "\n".join((errors or [run.stderr])[:ERROR_LINES]))
            else:
                on_done(job)
    if failed:
        raise BuildError(
            f"compiling for the emulated board failed ({len(failed)} of {len(jobs)} files; "
            f"log: {log_path}):\n{failed[0]}"
        )


def run_tool(cmd: list[str], log_path: Path, what: str) -> None:
    """Runs a link or archive step; a failure is a BuildError with its output."""
    run = subprocess.run(cmd, capture_output=True, text=True, check=False)
    with log_path.open("a", encoding="utf-8") as log:
        log.write(f"$ {shlex.join(cmd)}\n{run.stdout}{run.stderr}")
    if run.returncode != 0:
        lines = run.stderr.strip().splitlines()
        shown = [ln for ln in lines if "error" in ln or "undefined reference" in ln] or lines
        raise BuildError(f"{what} failed (log: {log_path}):\n" + "\n".join(shown[:ERROR_LINES]))
