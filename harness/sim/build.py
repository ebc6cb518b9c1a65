"""Compiles a twin personality's firmware libraries into a host shared library, once per
source hash. Each personality has its own library (images.toml's ``[host.NAME]``), so its
identity covers its own modules: editing the MLPerf module does not change the hil twin's."""

from __future__ import annotations

import hashlib
import os
import shlex
import shutil
import subprocess
from pathlib import Path

from filelock import FileLock

from ..errors import BuildError
from ..firmware.images import host_image
from ..paths import cache_dir, firmware_dir

CFLAGS = ["-std=c99", "-O2", "-fPIC", "-shared", "-Wall", "-Wextra", "-Werror"]


def _compiler() -> list[str]:
    cc = shlex.split(os.environ.get("CC", "cc"))
    if not shutil.which(cc[0]):
        raise BuildError(
            f"no C compiler ({cc[0]!r}) to build the simulated twin's firmware core: "
            "install one (Debian: apt-get install gcc) or set CC"
        )
    return cc


def _src_dirs(personality: str, root: Path) -> list[Path]:
    return [root / "lib" / lib / "src" for lib in host_image(personality, root).libs]


def host_sources(personality: str = "hil", root: Path | None = None) -> list[Path]:
    """The C files the personality's host library is compiled from."""
    return sorted(p for d in _src_dirs(personality, root or firmware_dir()) for p in d.glob("*.c"))


def source_hash(personality: str = "hil", root: Path | None = None) -> str:
    """Hash of the personality's library sources and headers: part of a twin image's identity."""
    h = hashlib.sha256()
    root = root or firmware_dir()
    for src in _src_dirs(personality, root):
        for path in sorted(src.glob("*.[ch]")):
            rel = path.relative_to(root).as_posix()
            h.update(rel.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def build_host_library(personality: str = "hil") -> Path:
    """Returns the path of the personality's compiled library, building it if its sources
    changed."""
    cc = _compiler()
    root = firmware_dir()
    key = hashlib.sha256(
        (personality + source_hash(personality) + " ".join(cc + CFLAGS)).encode()
    ).hexdigest()[:16]
    out_dir = cache_dir() / "simcore" / key
    lib = out_dir / f"libhil_{personality}.so"
    if lib.is_file():
        return lib
    out_dir.mkdir(parents=True, exist_ok=True)
    with FileLock(str(out_dir / ".lock")):
        if lib.is_file():  # another process built it while we waited
            return lib
        tmp = out_dir / f"libhil_{personality}.{os.getpid()}.so"
        includes = [f"-I{d}" for d in _src_dirs(personality, root)]
        cmd = [*cc, *CFLAGS, *includes, "-o", str(tmp), *map(str, host_sources(personality))]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise BuildError(
                f"compiling the firmware core failed ({shlex.join(cmd)}):\n{proc.stderr}"
            )
        tmp.replace(lib)
    return lib
