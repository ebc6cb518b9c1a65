"""TOML settings files: the packaged defaults, the user's file over them, keys checked.

A key the reader does not know is refused rather than ignored: a misspelt setting must not
silently leave the default in force.
"""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

from .errors import ConfigError


def packaged_toml(package: str, name: str) -> dict[str, Any]:
    """A TOML file shipped inside ``package`` (the defaults)."""
    return tomllib.loads(resources.files(package).joinpath(name).read_text(encoding="utf-8"))


def read_toml(path: Path, flag: str) -> dict[str, Any]:
    """The user's TOML file given with ``flag``."""
    if not path.is_file():
        raise ConfigError(f"{path} does not exist: check {flag}")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from exc


def overlay(defaults: dict[str, Any], user: dict[str, Any], source: str) -> dict[str, Any]:
    """The defaults with the user's file laid over them. A table merges, the user's entries
    first (their patterns are tried before the defaults'); any other value replaces. A key
    the defaults do not have is refused: it would be ignored."""
    unknown = sorted(set(user) - set(defaults))
    if unknown:
        raise ConfigError(f"{source}: {', '.join(unknown)} is not a setting here: use "
                          f"{', '.join(sorted(defaults))}")
    out = dict(defaults)
    for key, value in user.items():
        if isinstance(value, dict) and isinstance(out[key], dict):
            out[key] = {**value, **{k: v for k, v in out[key].items() if k not in value}}
        else:
            out[key] = value
    return out


def check_keys(table: Any, allowed: tuple[str, ...], where: str) -> None:
    """Raises ValueError unless ``table`` is a TOML table whose keys are all in ``allowed``."""
    if not isinstance(table, dict):
        raise ValueError(f"{where} must be a table of {', '.join(allowed)}")
    unknown = sorted(set(table) - set(allowed))
    if unknown:
        raise ValueError(f"{where} has {', '.join(unknown)}, which it does not take: use "
                         f"{', '.join(allowed)}")
