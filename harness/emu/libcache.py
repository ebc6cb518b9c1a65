"""The TFLM library compiled for an emulated board, cached per (commit, flags, compiler).

Every object is kept, so a second image with the same library compiles none of it, and a build
killed half-way resumes where it stopped. The objects go into an archive, as PlatformIO's
``lib_archive = yes`` does on the board: the linker takes only the members the image uses.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock

from ..firmware.library import LibraryCheckout
from ..paths import cache_dir
from .toolchain import (
    C_SUFFIXES,
    CXX_SUFFIXES,
    CompileJob,
    Flags,
    Toolchain,
    compile_objects,
    run_tool,
)

CACHE_SCHEME = "tflm-hil library objects v1"
# The library's parts the firmware never builds (scripts/hil_pre.py leaves them out on the
# board too): audio peripherals and test_over_serial. On the board one peripherals file,
# TFLM's clock, stays; the emulation layer provides that clock (firmware/src/emu/arduino_shim.cpp).
EXCLUDED_DIRS = ("peripherals/", "test_over_serial/")
ARCHIVE = "libtflm.a"


@dataclass(frozen=True)
class LibraryBuild:
    archive: Path
    compiled: int  # objects compiled by this build
    cached: int  # objects found already compiled

    def describe(self) -> dict[str, object]:
        return {"archive": str(self.archive), "compiled": self.compiled, "cached": self.cached}


def library_sources(src: Path) -> list[Path]:
    suffixes = C_SUFFIXES + CXX_SUFFIXES
    return sorted(
        p
        for p in src.rglob("*")
        if p.suffix in suffixes
        and p.is_file()
        and not p.relative_to(src).as_posix().startswith(EXCLUDED_DIRS)
    )


def _object_name(src: Path, source: Path) -> str:
    return source.relative_to(src).as_posix().replace("/", "__") + ".o"


def cache_key(checkout: LibraryCheckout, flags: Flags, toolchain: Toolchain) -> str:
    return flags.digest(CACHE_SCHEME, checkout.commit, toolchain.version)


def build_library(
    checkout: LibraryCheckout,
    flags: Flags,
    toolchain: Toolchain,
    log_path: Path,
    on_compiled: Callable[[Path], None] = lambda src: None,
    root: Path | None = None,
) -> LibraryBuild:
    """The library's archive for these flags, compiling only what is not cached yet."""
    key = cache_key(checkout, flags, toolchain)
    out = (root or cache_dir() / "emu" / "tflm-objects") / key[:16]
    out.mkdir(parents=True, exist_ok=True)
    archive = out / ARCHIVE
    sources = library_sources(checkout.src)
    # flat object names: an archive keeps base names, and two sources may share one
    jobs = [CompileJob(s, out / "obj" / _object_name(checkout.src, s)) for s in sources]
    # two sessions building one library take turns: the second finds the first one's objects
    with FileLock(str(out / ".lock")):
        todo = [j for j in jobs if not j.obj.is_file()]
        if todo or not archive.is_file():
            compile_objects(
                todo, toolchain, flags, [checkout.src], log_path, lambda j: on_compiled(j.src)
            )
            tmp = archive.with_suffix(".tmp")
            tmp.unlink(missing_ok=True)
            objects = [str(j.obj) for j in jobs]
            run_tool([toolchain.ar, "rcs", str(tmp), *objects], log_path, "archiving the library")
            tmp.replace(archive)
            manifest = {
                "scheme": CACHE_SCHEME,
                "ref": checkout.ref,
                "commit": checkout.commit,
                "compiler": toolchain.version,
                "flags": [*flags.arch, *flags.common, *flags.c, *flags.cxx, *flags.defines],
                "objects": len(jobs),
            }
            (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return LibraryBuild(archive, compiled=len(todo), cached=len(jobs) - len(todo))
