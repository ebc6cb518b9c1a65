"""Where things are: the firmware sources (in the repository or packaged) and the cache."""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def firmware_dir() -> Path:
    """The firmware tree: next to the package in a checkout, inside it in a wheel."""
    for candidate in (PACKAGE_DIR.parent / "firmware", PACKAGE_DIR / "_firmware"):
        if (candidate / "lib" / "hil_core" / "src" / "hil_core.h").is_file():
            return candidate
    raise FileNotFoundError("the tflm-hil firmware sources are missing from this installation")


def firmware_lib_dir(name: str) -> Path:
    """The sources of one firmware library, e.g. ``hil_core``."""
    return firmware_dir() / "lib" / name / "src"


def cache_dir() -> Path:
    """$TFLM_HIL_CACHE, else $XDG_CACHE_HOME/tflm-hil, else ~/.cache/tflm-hil."""
    explicit = os.environ.get("TFLM_HIL_CACHE")
    xdg = os.environ.get("XDG_CACHE_HOME")
    path = Path(explicit) if explicit else Path(xdg or Path.home() / ".cache") / "tflm-hil"
    path.mkdir(parents=True, exist_ok=True)
    return path
