"""Published on-device latencies (``published_latency.toml``) and the exact models they were
measured on, obtained at run time from their repositories and checked by sha1: never stored
in this repository. A model whose repository is not fetched is skipped with the command that
fetches it."""

from __future__ import annotations

import hashlib
import os
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ..errors import BuildError
from ..firmware.gitfetch import LOCAL_UPLOAD_PACK
from ..firmware.library import fetch_command, find_library
from ..firmware.pins import resolve_pins
from ..paths import cache_dir
from ..tomlio import packaged_toml

_ARRAY = re.compile(r"unsigned char \w+\[\]\s*=\s*\{([^}]*)\}", re.S)


@dataclass(frozen=True)
class Pair:
    id: str
    role: str
    model: str
    board: str
    cpu: str
    mhz: float
    ms: float
    kernels: str
    source: str

    @property
    def cycles(self) -> float:
        return self.ms * self.mhz * 1e3


@dataclass(frozen=True)
class ModelSource:
    name: str
    source: str  # "library" or a [sources] entry
    path: str
    sha1: str
    ref: str = ""


def _doc() -> dict:
    return packaged_toml("harness.bench", "published_latency.toml")


def load_pairs() -> list[Pair]:
    return [Pair(**p) for p in _doc()["pairs"]]


def model_sources() -> dict[str, ModelSource]:
    return {k: ModelSource(k, **v) for k, v in _doc()["models"].items()}


def source_urls() -> dict[str, str]:
    return {k: v["url"] for k, v in _doc()["sources"].items()}


def source_dir(name: str) -> Path:
    return cache_dir() / "sources" / name


def source_fetch_command(name: str) -> str:
    return f"python -m harness.bench.fidelity fetch {shlex.quote(name)}"


def fetch_source(name: str, origin: str | None = None) -> Path:
    """A blob-less bare clone of the source into the user cache (replacing an older one): a
    file's bytes are fetched when it is read. ``origin``: another URL or a local repository."""
    url = origin or source_urls()[name]
    cmd = ["git", "clone", "-q", "--bare", "--filter=blob:none"]
    if Path(url).is_dir():  # a plain path clones locally, every blob: file:// honours the filter
        url = Path(url).resolve().as_uri()
        cmd += ["-u", LOCAL_UPLOAD_PACK]
    into = source_dir(name)
    tmp = into.with_name(f"{name}.tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    into.parent.mkdir(parents=True, exist_ok=True)
    run = subprocess.run([*cmd, url, str(tmp)], capture_output=True, text=True, check=False)
    if run.returncode != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        raise BuildError(f"{shlex.join(cmd)} {url} failed: {run.stderr.strip()[-400:]}")
    shutil.rmtree(into, ignore_errors=True)
    tmp.rename(into)
    return into


def git_show(repo: Path, rev: str, path: str) -> bytes | None:
    run = subprocess.run(
        ["git", "show", f"{rev}:{path}"], cwd=repo, capture_output=True, check=False, timeout=600
    )
    return run.stdout if run.returncode == 0 else None


def c_array_bytes(text: bytes) -> bytes | None:
    """The bytes of the first ``unsigned char name[] = {0x.., ...}`` in a C source."""
    m = _ARRAY.search(text.decode(errors="replace"))
    if m is None:
        return None
    return bytes(int(v, 16) for v in re.findall(r"0x([0-9a-fA-F]{2})", m.group(1)))


def obtain_model(src: ModelSource, out_dir: Path) -> Path | str:
    """The model as a .tflite in ``out_dir``; or why it cannot be had, naming the command."""
    if src.source == "library":
        ref = resolve_pins().tflm_ref
        checkout = find_library(ref)
        if checkout is None:
            return f"the TFLM library is not fetched: run `{fetch_command(ref)}`"
        repo, rev = checkout.root, checkout.commit
    else:
        repo, rev = source_dir(src.source), src.ref
        if not repo.is_dir():
            fetch = source_fetch_command(src.source)
            return f"{source_urls()[src.source]} is not fetched: run `{fetch}`"
    raw = git_show(repo, rev, src.path)
    data = c_array_bytes(raw) if raw is not None and not src.path.endswith(".tflite") else raw
    if data is None:
        return f"{repo} has no {src.path} at {rev}"
    if hashlib.sha1(data).hexdigest() != src.sha1:
        return f"{src.path} at {rev} is not the model the figure was measured on ({src.sha1[:12]})"
    path = out_dir / f"{src.name}.tflite"
    path.write_bytes(data)
    return path
