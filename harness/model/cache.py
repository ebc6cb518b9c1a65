"""Reference outputs cached by content: the model, the reference, the vectors and the runtime
versions form the key, so a second run recomputes nothing and a change to any of them misses."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

import numpy as np

from ..paths import cache_dir
from ..tflite.vectors import Vectors

log = logging.getLogger(__name__)


def package_version(*names: str) -> str:
    for name in names:
        try:
            return f"{name}=={metadata.version(name)}"
        except metadata.PackageNotFoundError:
            continue
    return "none"


def vectors_digest(v: Vectors) -> str:
    h = hashlib.sha256()
    for arr in (*v.inputs, *(v.x_float or ())):
        h.update(
            str(arr.dtype).encode() + str(arr.shape).encode() + np.ascontiguousarray(arr).tobytes()
        )
    return h.hexdigest()


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def cached(
    kind: str,
    key_parts: list[str],
    compute: Callable[[], list[np.ndarray]],
    root: Path | None = None,
) -> tuple[list[np.ndarray], bool]:
    """Returns (outputs, True) from the cache, or computes, stores and returns (outputs, False)."""
    key = hashlib.sha256("\n".join([kind, *key_parts]).encode()).hexdigest()[:24]
    path = (root or cache_dir() / "references") / f"{kind}-{key}.npz"
    if path.is_file():
        try:
            with np.load(path, allow_pickle=False) as data:
                outs = [data[f"out{i}"] for i in range(len(data.files))]
            log.info("%s reference outputs reused from the cache (%s)", kind, path)
            return outs, True
        except (OSError, ValueError, KeyError):
            log.warning("cache entry %s is unreadable; recomputing", path)
    outs = compute()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    arrays: dict[str, np.ndarray] = {f"out{i}": o for i, o in enumerate(outs)}
    np.savez(tmp, **arrays)  # type: ignore[arg-type]  # numpy's stub misreads **kwargs
    tmp.replace(path)
    log.info("%s reference outputs computed and cached (%s)", kind, path)
    return outs, False
