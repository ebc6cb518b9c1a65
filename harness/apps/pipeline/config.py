"""The pipeline's defaults (defaults.toml beside this file), read once."""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources
from typing import Any


@cache
def defaults() -> dict[str, Any]:
    text = resources.files(__package__).joinpath("defaults.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def section(name: str) -> dict[str, Any]:
    return dict(defaults().get(name, {}))


def default_seed() -> int:
    return int(defaults()["seed"])
