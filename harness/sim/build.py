"""Compiles the portable firmware core into a host shared library, once per source hash."""

from __future__ import annotations

import hashlib
import os
import shlex
import shutil
import subprocess
from pathlib import Path

from filelock import FileLock

from ..errors import BuildError
from ..paths import cache_dir, core_src_dir

CFLAGS = ["-std=c99", "-O2", "-fPIC", "-shared", "-Wall", "-Wextra", "-Werror"]


def _compiler() -> list[str]:
    cc = shlex.split(os.environ.get("CC", "cc"))
    if not shutil.which(cc[0]):
        raise BuildError(
            f"no C compiler ({cc[0]!r}) to build the simulated twin's firmware core: "
            "install one (Debian: apt-get install gcc) or set CC"
        )
    return cc


def core_sources() -> list[Path]:
    return sorted(core_src_dir().glob("*.c"))


def source_hash() -> str:
    """Hash of the core's sources and headers: part of every twin image's identity."""
    h = hashlib.sha256()
    for path in sorted(core_src_dir().glob("*.[ch]")):
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def build_core_library() -> Path:
    """Returns the path of the compiled core, building it if the sources changed."""
    cc = _compiler()
    key = hashlib.sha256((source_hash() + " ".join(cc + CFLAGS)).encode()).hexdigest()[:16]
    out_dir = cache_dir() / "simcore" / key
    lib = out_dir / "libhilcore.so"
    if lib.is_file():
        return lib
    out_dir.mkdir(parents=True, exist_ok=True)
    with FileLock(str(out_dir / ".lock")):
        if lib.is_file():  # another process built it while we waited
            return lib
        tmp = out_dir / f"libhilcore.{os.getpid()}.so"
        cmd = [*cc, *CFLAGS, "-o", str(tmp), *map(str, core_sources())]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise BuildError(
                f"compiling the firmware core failed ({shlex.join(cmd)}):\n{proc.stderr}"
            )
        tmp.replace(lib)
    return lib
