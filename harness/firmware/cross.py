"""Debian's arm-none-eabi toolchain and parallel compiles, for every cross build of the
firmware: the emulated board's images (harness/emu/) and the firmware check against a real
Arduino core (harness/firmware/check.py)."""

from __future__ import annotations

import concurrent.futures
import hashlib
import json
import os
import shlex
import shutil
import subprocess
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import BuildError

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


@dataclass(frozen=True)
class CompileJob:
    src: Path
    obj: Path


@dataclass(frozen=True)
class Compiled:
    """One compile's command and outcome (its output is the compiler's diagnostics)."""

    src: Path
    cmd: tuple[str, ...]
    returncode: int
    output: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def run_compiles(
    commands: Sequence[tuple[Path, Sequence[str]]],
    log_path: Path,
    on_done: Callable[[Compiled], None] = lambda c: None,
    extra_env: Mapping[str, str] | None = None,
) -> list[Compiled]:
    """Runs every (source, command), os.cpu_count() at a time, with ``extra_env`` added to the
    environment; logs each command and its output to ``log_path``; returns the outcomes in the
    order given."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **extra_env} if extra_env else None

    def one(src: Path, cmd: Sequence[str]) -> Compiled:
        run = subprocess.run(list(cmd), capture_output=True, text=True, check=False, env=env)
        return Compiled(src, tuple(cmd), run.returncode, run.stdout + run.stderr)

    out: dict[int, Compiled] = {}
    with (
        log_path.open("a", encoding="utf-8") as log,
        concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool,
    ):
        futures = {pool.submit(one, src, cmd): n for n, (src, cmd) in enumerate(commands)}
        for future in concurrent.futures.as_completed(futures):
            done = future.result()
            out[futures[future]] = done
            log.write(f"$ {shlex.join(done.cmd)}\n{done.output}")
            on_done(done)
    return [out[n] for n in range(len(commands))]


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
    by_src = {job.src: job for job in jobs}
    tmps = {job.src: job.obj.with_name(f"{job.obj.name}.{os.getpid()}.tmp") for job in jobs}
    commands = []
    for job in jobs:
        tool = toolchain.gcc if job.src.suffix in C_SUFFIXES else toolchain.gxx
        job.obj.parent.mkdir(parents=True, exist_ok=True)
        cmd = [
            tool,
            *flags.for_source(job.src),
            *incs,
            "-c",
            str(job.src),
            "-o",
            str(tmps[job.src]),
        ]
        commands.append((job.src, cmd))

    def finish(done: Compiled) -> None:
        # every object is written under a temporary name and renamed: a killed build never
        # leaves half an object behind
        if done.ok:
            tmps[done.src].replace(by_src[done.src].obj)
            on_done(by_src[done.src])
        else:
            tmps[done.src].unlink(missing_ok=True)

    results = run_compiles(commands, log_path, finish)
    failed = [
        f"{c.src}:\n"
        + "\n".join(
            ([ln for ln in c.output.splitlines() if "error" in ln] or [c.output])[:ERROR_LINES]
        )
        for c in results
        if not c.ok
    ]
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
