"""Where things are: the firmware sources and the example model (in the repository or packaged),
the checkout when there is one, and the cache. The only module that looks beside the package."""

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


def checkout_root() -> Path | None:
    """The tflm-hil checkout this package runs from (its pyproject.toml beside the package), or
    None for an installed wheel."""
    root = PACKAGE_DIR.parent
    pyproject = root / "pyproject.toml"
    if pyproject.is_file() and 'name = "tflm-hil"' in pyproject.read_text(encoding="utf-8"):
        return root
    return None


def example_dir(name: str = "digits") -> Path:
    """The example model's folder: fixtures/<name> in a checkout, harness/_examples/<name> in a
    wheel (force-included from the checkout's, pyproject.toml)."""
    for candidate in (PACKAGE_DIR.parent / "fixtures" / name, PACKAGE_DIR / "_examples" / name):
        if (candidate / "model.json").is_file():
            return candidate
    raise FileNotFoundError(f"the tflm-hil example model {name!r} is missing from this install")


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
