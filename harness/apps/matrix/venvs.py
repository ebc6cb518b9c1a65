"""Virtual environments for cells run without tox: one per requirement set, created once.

uv is used when it is on PATH (its cache shares TensorFlow's files between environments),
else ``python -m venv`` and pip. An environment is ready once its stamp file names the hash
of its requirements; a failed install leaves no stamp and its log, for an ``install`` cell.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from filelock import FileLock

from ...paths import checkout_root

INSTALL_TIMEOUT_S = 1800
STAMP = ".tflm-hil-matrix-ready"


@dataclass(frozen=True)
class EnvSpec:
    name: str  # a readable prefix: rt-tflm2401, conv-tf221
    requirements: tuple[str, ...]
    harness: tuple[str, ...] = ()  # how tflm-hil itself is installed (harness_source())

    @property
    def digest(self) -> str:
        text = "\n".join([*self.requirements, *self.harness, sys.version])
        return hashlib.sha256(text.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class EnvResult:
    python: Path | None
    log: Path
    output: str  # the installer's output when it failed


def harness_source() -> tuple[str, ...]:
    """What a cell's environment installs of tflm-hil: the checkout this runs from, editable
    with [dev] (its own code, under test), else the installed release."""
    root = checkout_root()
    if root is not None:
        return ("-e", f"{root}[dev]")
    return (f"tflm-hil=={installed_version('tflm-hil')}",)


def installed_version(name: str) -> str | None:
    """The version of distribution ``name`` in this interpreter (None if absent), read without
    importing it."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def current_env_matches(requirements: Sequence[str]) -> bool:
    """True when this interpreter already has every ``name==version`` pin (others ignored)."""
    for req in requirements:
        if "==" not in req:
            continue
        name, version = (s.strip() for s in req.split("==", 1))
        if installed_version(name) != version:
            return False
    return True


def ensure_env(spec: EnvSpec, root: Path) -> EnvResult:
    """Makes (once) or reuses the environment; cells running side by side that want the same
    one take turns (the second finds it made)."""
    root.mkdir(parents=True, exist_ok=True)
    with FileLock(str(root / f"{spec.name}-{spec.digest}.lock")):
        return _ensure_env(spec, root)


def _ensure_env(spec: EnvSpec, root: Path) -> EnvResult:
    path = root / f"{spec.name}-{spec.digest}"
    python = path / "bin" / "python"
    log = root / f"{spec.name}-{spec.digest}.log"
    stamp = path / STAMP
    if stamp.is_file() and python.exists():
        return EnvResult(python, log, "")
    if path.exists():
        shutil.rmtree(path)  # a half-made environment from an interrupted install
    root.mkdir(parents=True, exist_ok=True)
    install = [*spec.harness, *spec.requirements]
    uv = shutil.which("uv")
    if uv:
        steps = [
            [uv, "venv", "--quiet", "--python", sys.executable, str(path)],
            [uv, "pip", "install", "--python", str(python), *install],
        ]
    else:
        steps = [
            [sys.executable, "-m", "venv", str(path)],
            [str(python), "-m", "pip", "install", "--disable-pip-version-check", *install],
        ]
    outputs: list[str] = []
    for cmd in steps:
        try:
            proc = subprocess.run(
                cmd,
                capture_output=True,
                text=True,
                timeout=INSTALL_TIMEOUT_S,
                env={**os.environ, "PIP_NO_INPUT": "1"},
            )
        except subprocess.TimeoutExpired as exc:
            out = f"$ {' '.join(cmd)}\n(killed after {INSTALL_TIMEOUT_S} s)\n{exc.output or ''}"
            log.write_text("\n".join([*outputs, out]), encoding="utf-8")
            return EnvResult(None, log, out)
        outputs.append(f"$ {' '.join(cmd)}\n{proc.stdout}{proc.stderr}")
        if proc.returncode != 0:
            log.write_text("\n".join(outputs), encoding="utf-8")
            return EnvResult(None, log, outputs[-1])
    log.write_text("\n".join(outputs), encoding="utf-8")
    stamp.write_text("\n".join(install) + "\n", encoding="utf-8")
    return EnvResult(python, log, "")
