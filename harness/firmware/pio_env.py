"""An env's ``build_flags`` and ``build_unflags`` from platformio.ini, as PlatformIO reads them:
``extends`` followed, ``${section.option}`` and ``${sysenv.VAR}`` interpolated, each line split
like a shell word list. PlatformIO itself is not needed (nor installable here) to know them."""

from __future__ import annotations

import configparser
import re
import shlex
from collections.abc import Mapping
from pathlib import Path

from ..errors import ConfigError
from .pins import Pins, read_platformio_ini

_REF_RE = re.compile(r"\$\{([^}]+)\}")


def _option(parser: configparser.ConfigParser, env: str, option: str) -> str:
    """``option`` of ``[env:NAME]``, else of what it extends, else of ``[env]``."""
    section, seen = f"env:{env}", set()
    while section not in seen:
        seen.add(section)
        if not parser.has_section(section):
            raise ConfigError(f"platformio.ini has no [{section}]")
        if parser.has_option(section, option):
            return parser.get(section, option)
        parent = parser.get(section, "extends", fallback="").strip()
        if not parent:
            break
        section = parent
    return parser.get("env", option, fallback="")


def _interpolate(
    parser: configparser.ConfigParser, text: str, sysenv: Mapping[str, str], depth: int = 0
) -> str:
    if depth > 10:
        raise ConfigError(f"platformio.ini: ${{...}} references loop in {text!r}")

    def one(m: re.Match[str]) -> str:
        section, _, option = m.group(1).rpartition(".")
        if section == "sysenv":
            return sysenv.get(option, "")
        if section.startswith("env:"):
            return _interpolate(parser, _option(parser, section[4:], option), sysenv, depth + 1)
        return _interpolate(parser, parser.get(section, option, fallback=""), sysenv, depth + 1)

    return _REF_RE.sub(one, text)


def _flags(value: str) -> list[str]:
    out: list[str] = []
    for line in value.splitlines():
        line = line.strip()
        if line and not line.startswith((";", "#")):
            out.extend(shlex.split(line))
    return out


def env_flags(env: str, pins: Pins, ini: Path | None = None) -> tuple[list[str], list[str]]:
    """(build_flags, build_unflags) of ``env`` with the pins in force."""
    parser = read_platformio_ini(ini)
    sysenv = pins.environ()
    flags = _flags(_interpolate(parser, _option(parser, env, "build_flags"), sysenv))
    unflags = _flags(_interpolate(parser, _option(parser, env, "build_unflags"), sysenv))
    return flags, unflags
