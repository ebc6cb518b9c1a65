"""The board catalog: boards are data (harness/data/boards.toml), read into dataclasses."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

from ..errors import ConfigError

SIM_PREFIX = "sim:"


@dataclass(frozen=True)
class LinkSpec:
    kind: str  # "usb-cdc" or "uart"
    bytes_per_s: int
    rx_window: int
    baud: int | None = None


@dataclass(frozen=True)
class PlatformioSpec:
    env: str
    board: str
    platform: str
    upload_protocol: str


@dataclass(frozen=True)
class BoardSpec:
    id: str
    name: str
    mcu: str
    cpu: str
    arduino_core: str
    clock_hz: int
    flash_bytes: int
    ram_bytes: int
    usb_app: str
    usb_bootloader: str
    touch_1200bps: bool
    link: LinkSpec
    platformio: PlatformioSpec
    footprint_flash_bytes: int
    footprint_ram_bytes: int
    # what the application may use once the bootloader and the core's reserved regions are
    # taken: the limits a real image and the twin's image are checked against
    app_flash_bytes: int = 0
    app_ram_bytes: int = 0


def _board(board_id: str, d: dict) -> BoardSpec:
    try:
        link = d["link"]
        if link["kind"] not in ("usb-cdc", "uart"):
            raise ValueError(f"link.kind must be usb-cdc or uart, not {link['kind']!r}")
        return BoardSpec(
            id=board_id,
            name=d["name"],
            mcu=d["mcu"],
            cpu=d["cpu"],
            arduino_core=d["arduino_core"],
            clock_hz=int(d["clock_hz"]),
            flash_bytes=int(d["flash_bytes"]),
            ram_bytes=int(d["ram_bytes"]),
            usb_app=d["usb_app"].lower(),
            usb_bootloader=d.get("usb_bootloader", "").lower(),
            touch_1200bps=bool(d.get("touch_1200bps", False)),
            link=LinkSpec(
                kind=link["kind"],
                bytes_per_s=int(link.get("bytes_per_s") or int(link["baud"]) // 10),
                rx_window=int(link["rx_window"]),
                baud=link.get("baud"),
            ),
            platformio=PlatformioSpec(**d["platformio"]),
            footprint_flash_bytes=int(d["footprint"]["flash_bytes"]),
            footprint_ram_bytes=int(d["footprint"]["ram_bytes"]),
            app_flash_bytes=int(d.get("app_flash_bytes", d["flash_bytes"])),
            app_ram_bytes=int(d.get("app_ram_bytes", d["ram_bytes"])),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"board catalog entry {board_id!r} is invalid: {exc!r}") from exc


@cache
def load_catalog(path: Path | None = None) -> dict[str, BoardSpec]:
    if path is None:
        text = resources.files("harness").joinpath("data/boards.toml").read_text()
    else:
        text = Path(path).read_text()
    data = tomllib.loads(text)
    return {bid: _board(bid, entry) for bid, entry in data.get("boards", {}).items()}


def resolve_board(name: str, catalog: dict[str, BoardSpec] | None = None) -> tuple[BoardSpec, bool]:
    """``nano33`` -> (the Nano 33 entry, False); ``sim:nano33`` -> (the same entry, True)."""
    catalog = catalog if catalog is not None else load_catalog()
    simulated = name.startswith(SIM_PREFIX)
    board_id = name.removeprefix(SIM_PREFIX)
    if board_id not in catalog:
        known = ", ".join(sorted(catalog))
        raise ConfigError(
            f"unknown board {name!r}: the catalog has {known} "
            f"(prefix 'sim:' for a simulated twin, e.g. --board=sim:{next(iter(catalog), '')})"
        )
    return catalog[board_id], simulated
