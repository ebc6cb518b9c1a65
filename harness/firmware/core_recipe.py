"""The compile command of a sketch file, as the Arduino core's own recipe writes it.

PlatformIO's builder for this core (platform nordicnrf52 & co., ``framework = arduino`` over
``framework-arduino-mbed``) reads the same variant files as the Arduino IDE's recipe: the
variant's ``cflags.txt``, ``cxxflags.txt``, ``defines.txt`` and ``includes.txt``. That builder
is not on this machine, so the command is derived from the core's own files at the version's
tag: ``platform.txt``'s ``recipe.c.o.pattern`` / ``recipe.cpp.o.pattern`` with the board's
``boards.txt`` entries, which pass those four files to gcc as ``@file`` arguments. Where the
two builds differ, we follow PlatformIO and say so:
- ``compiler.warning_flags``: the IDE's default is ``-w`` (no warnings at all); PlatformIO
  never adds ``-w``, and the variant's cflags already hold ``-Wall -Wextra``: ``.all`` here.
- ``runtime.ide.version``: PlatformIO defines ``ARDUINO=10810``.
- the architecture (``ARDUINO_ARCH_{build.arch}``): the package's folder name, which the IDE
  knows from where the core is installed; from the release templates at the tag here
  (``mbed`` up to 1.x; ``mbed_nano``, ``mbed_portenta``... from 2.0, when the one package was
  split per board family).
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError
from .arduino_core import CoreCheckout

PIO_ARDUINO_VERSION = "10810"  # PlatformIO's -DARDUINO for every Arduino framework
UNSPLIT_ARCH = "mbed"  # the architecture of the one package before 2.0
_VAR_RE = re.compile(r"\{([A-Za-z0-9_.\-]+)\}")


def read_properties(path: Path) -> dict[str, str]:
    """An Arduino ``.txt`` properties file: ``key=value`` lines, ``#`` comments."""
    out: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            out[key.strip()] = value.strip()
    return out


def board_properties(checkout: CoreCheckout, board: str) -> dict[str, str]:
    """platform.txt's properties with the board's boards.txt entries over them."""
    props = read_properties(checkout.root / "platform.txt")
    boards = read_properties(checkout.root / "boards.txt")
    prefix = f"{board}."
    entries = {k.removeprefix(prefix): v for k, v in boards.items() if k.startswith(prefix)}
    if not entries:
        known = sorted({k.split(".", 1)[0] for k in boards if k.endswith(".name")})
        raise ConfigError(
            f"ArduinoCore-mbed {checkout.version} has no board {board!r} in boards.txt "
            f"(it has {', '.join(known)}): the catalog's arduino_board names a boards.txt id"
        )
    return {**props, **entries, **_default_menu_entries(entries)}


def _default_menu_entries(entries: dict[str, str]) -> dict[str, str]:
    """The board's menu options (``menu.MENU.OPTION.key=value``) that the IDE selects by
    default: the first option listed of each menu (the Portenta's target core, split...)."""
    first: dict[str, str] = {}
    out: dict[str, str] = {}
    for key, value in entries.items():
        parts = key.split(".", 3)
        if len(parts) < 4 or parts[0] != "menu":
            continue
        menu, option, rest = parts[1], parts[2], parts[3]
        if first.setdefault(menu, option) == option:
            out[rest] = value
    return out


def architecture(checkout: CoreCheckout, split_arch: str) -> str:
    """``split_arch`` (the catalog's, e.g. mbed_nano) when the release templates at the tag
    publish a package of that architecture, else the one package's ``mbed``."""
    templates = [checkout.root / "extras" / "package_index.json.NewTag.template"]
    templates += sorted((checkout.root / "extras" / "json").glob("*.json"))
    for path in templates:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError:
            continue
        # the templates hold %%PLACEHOLDERS%% outside strings in places: look for the key only
        if re.search(rf'"architecture"\s*:\s*{re.escape(json.dumps(split_arch))}', text):
            return split_arch
    return UNSPLIT_ARCH


def expand(text: str, props: Mapping[str, str], depth: int = 0) -> str:
    """``{name}`` replaced by its property, recursively; an unknown name becomes empty, as
    the Arduino builder leaves a property nobody set."""
    if depth > 20:
        raise ConfigError(f"platform.txt's properties refer to each other in a loop: {text}")
    out = _VAR_RE.sub(lambda m: props.get(m.group(1), ""), text)
    return out if out == text or "{" not in out else expand(out, props, depth + 1)


@dataclass(frozen=True)
class CoreRecipe:
    """The core's compile recipes for one board, every property but the file's own filled."""

    checkout: CoreCheckout
    board: str
    arch: str
    props: Mapping[str, str]

    @classmethod
    def load(
        cls, checkout: CoreCheckout, board: str, split_arch: str, compiler_dir: str
    ) -> CoreRecipe:
        props = board_properties(checkout, board)
        arch = architecture(checkout, split_arch)
        variant = props.get("build.variant", "")
        if not (checkout.variant_dir(variant) / "includes.txt").is_file():
            raise ConfigError(
                f"ArduinoCore-mbed {checkout.version}: the variant {variant!r} of {board} has no "
                "includes.txt: this core version is not one the firmware check can read"
            )
        props = {
            **props,
            "compiler.warning_flags": props.get("compiler.warning_flags.all", "-Wall -Wextra"),
            "runtime.ide.version": PIO_ARDUINO_VERSION,
            "build.arch": arch.upper(),
            "build.core.path": str(checkout.core_dir),
            "build.variant.path": str(checkout.variant_dir(variant)),
            "build.system.path": str(checkout.root / "system"),
            "runtime.platform.path": str(checkout.root),
            "compiler.path": compiler_dir.rstrip("/") + "/" if compiler_dir else "",
        }
        return cls(checkout, board, arch, props)

    @property
    def variant_dir(self) -> Path:
        return Path(self.props["build.variant.path"])

    def core_includes(self) -> list[Path]:
        """The core's part of ``{includes}``: the core and the variant folders."""
        return [self.checkout.core_dir, self.variant_dir]

    def command(
        self, source: Path, obj: Path, includes: Sequence[Path], extra: Sequence[str] = ()
    ) -> list[str]:
        """The recipe's command for ``source`` with the sketch's ``includes``, then ``extra``
        (the project's build_flags: PlatformIO appends them after the framework's, so the last
        of two contradicting flags, the project's, wins)."""
        kind = "c" if source.suffix == ".c" else "cpp"
        pattern = self.props.get(f"recipe.{kind}.o.pattern")
        if not pattern:
            raise ConfigError(
                f"ArduinoCore-mbed {self.checkout.version}: platform.txt has no "
                f"recipe.{kind}.o.pattern"
            )
        props = {
            **self.props,
            "includes": shlex.join(f"-I{p}" for p in includes),
            "source_file": str(source),
            "object_file": str(obj),
        }
        return [*shlex.split(expand(pattern, props)), *extra]
