"""The version pins of a firmware image: the TFLM library's git ref and the Arduino core version.

``firmware/platformio.ini`` reads them from ``${sysenv.HIL_TFLM_REF}`` and
``${sysenv.HIL_ARDUINO_CORE}`` so that a tox factor or a CI matrix can set them. PlatformIO
expands an unset variable to an empty string and has no default syntax, so the defaults live
in the same file (``[hil] default_*``) and the harness always exports both variables: the
user's value when set, else the default. A project copy (``tflm-hil firmware generate``) has
its pins written in (``pin_copy_ini``), so a plain ``pio run`` or an IDE builds it; its image
hash covers them, so ``scripts/hil_pre.py`` refuses a variable that says otherwise.
"""

from __future__ import annotations

import configparser
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError
from ..paths import firmware_dir

TFLM_REF_VAR = "HIL_TFLM_REF"
ARDUINO_CORE_VAR = "HIL_ARDUINO_CORE"

# The values end up in a git URL, a package requirement and a quoted -D build flag that
# SCons passes through a shell: characters outside these sets would break one of them.
_REF_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]*$")
_CORE_RE = re.compile(r"^~?[0-9A-Za-z][0-9A-Za-z.+-]*$")


@dataclass(frozen=True)
class Pins:
    tflm_ref: str
    arduino_core: str

    def environ(self) -> dict[str, str]:
        """The variables to export to ``pio`` so that platformio.ini resolves to these pins."""
        return {TFLM_REF_VAR: self.tflm_ref, ARDUINO_CORE_VAR: self.arduino_core}

    def items(self) -> list[tuple[str, str]]:
        return [("tflm_ref", self.tflm_ref), ("arduino_core", self.arduino_core)]


def read_platformio_ini(path: Path | None = None) -> configparser.ConfigParser:
    path = path or firmware_dir() / "platformio.ini"
    # PlatformIO's own reader: inline comments after ';' or '#'; no interpolation here,
    # ${...} belongs to PlatformIO.
    parser = configparser.ConfigParser(inline_comment_prefixes=("#", ";"), interpolation=None)
    if not parser.read(path, encoding="utf-8"):
        raise ConfigError(f"the firmware project file {path} is missing: reinstall tflm-hil")
    return parser


def default_pins(ini: Path | None = None) -> Pins:
    """The defaults written in platformio.ini's [hil] section."""
    parser = read_platformio_ini(ini)
    try:
        return Pins(
            tflm_ref=parser.get("hil", "default_tflm_ref").strip(),
            arduino_core=parser.get("hil", "default_arduino_core").strip(),
        )
    except (configparser.NoSectionError, configparser.NoOptionError) as exc:
        raise ConfigError(f"platformio.ini lacks the [hil] default pins: {exc}") from exc


def check_pins(pins: Pins) -> Pins:
    if not _REF_RE.match(pins.tflm_ref):
        raise ConfigError(
            f"{TFLM_REF_VAR}={pins.tflm_ref!r} is not a usable git ref: use a commit SHA or a tag "
            "of tflite-micro-arduino-examples (letters, digits, '.', '_', '/', '-')"
        )
    if not _CORE_RE.match(pins.arduino_core):
        raise ConfigError(
            f"{ARDUINO_CORE_VAR}={pins.arduino_core!r} is not a usable version: use an exact "
            "framework-arduino-mbed version such as 4.5.0 (or ~4.5.0)"
        )
    return pins


def resolve_pins(environ: Mapping[str, str] | None = None, ini: Path | None = None) -> Pins:
    """The pins in force: the environment's values where set (and non-empty), else the defaults."""
    env = os.environ if environ is None else environ
    defaults = default_pins(ini)
    return check_pins(
        Pins(
            tflm_ref=env.get(TFLM_REF_VAR, "").strip() or defaults.tflm_ref,
            arduino_core=env.get(ARDUINO_CORE_VAR, "").strip() or defaults.arduino_core,
        )
    )


def pin_copy_ini(text: str, pins: Pins) -> str:
    """platformio.ini of a project copy: ``[hil] tflm_ref`` and ``arduino_core`` hold the pins
    themselves instead of ``${sysenv.*}`` (PlatformIO has no default for an unset variable)."""
    for option, var, value in (
        ("tflm_ref", TFLM_REF_VAR, pins.tflm_ref),
        ("arduino_core", ARDUINO_CORE_VAR, pins.arduino_core),
    ):
        line = f"{option} = ${{sysenv.{var}}}"
        if line not in text:
            raise ConfigError(f"platformio.ini lacks '{line}' in [hil]: reinstall tflm-hil")
        text = text.replace(line, f"{option} = {value}  ; pinned by tflm-hil firmware generate")
    return text
