"""The board catalog: boards are data (harness/data/boards.toml), read into dataclasses."""

from __future__ import annotations

import enum
import tomllib
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path

from ..errors import ConfigError
from ..provenance import Provenance

SIM_PREFIX = "sim:"
QEMU_PREFIX = "qemu:"
MLPERF_PREFIX = "mlperf:"

# QEMU machines the emulation support layer (firmware/src/emu/) runs on, and the CPU each has.
QEMU_MACHINES = {"mps2-an386": "cortex-m4"}


class BoardKind(enum.StrEnum):
    """What ``--board`` names: the board itself, its simulated twin or its emulation."""

    REAL = "real"
    SIM = "sim"
    QEMU = "qemu"
    MLPERF = "mlperf"  # any MLPerf Tiny DUT firmware on a port (harness/mlperf/)

    @property
    def provenance(self) -> Provenance:
        """Of the device figures this kind of board gives."""
        return _KIND_PROVENANCE[self]


_KIND_PROVENANCE = {
    BoardKind.REAL: Provenance.MEASURED,
    BoardKind.QEMU: Provenance.EMULATED,
    BoardKind.SIM: Provenance.ESTIMATED,
    BoardKind.MLPERF: Provenance.MEASURED,  # by the DUT's own m-lap-us timer
}


@dataclass(frozen=True)
class EmulationSpec:
    """How the board's firmware image is built and run on QEMU (``qemu:<id>``).

    ``cpu``, ``float_abi`` and ``fpu`` are the board's compile flags; ``build`` names the
    PlatformIO build's other flags in harness/data/emulation.toml; ``defines`` are the board's
    own (its PlatformIO manifest's extra_flags).
    """

    machine: str
    cpu: str
    float_abi: str
    fpu: str
    build: str
    defines: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class LinkSpec:
    kind: str  # "usb-cdc" or "uart"
    bytes_per_s: int
    rx_window: int
    baud: int | None = None
    staging_bytes: int = 0  # more receive buffer: the next vector uploads while one computes

    @property
    def window(self) -> int:
        """The device's whole receive buffer, staging included: what the handshake reports."""
        return self.rx_window + self.staging_bytes


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
    emulation: EmulationSpec | None = None
    # the board's id in the Arduino core's boards.txt (its FQBN is arduino_core:arduino_board):
    # what `tflm-hil firmware check` compiles for; "" for a board it cannot check
    arduino_board: str = ""


def _emulation(d: dict | None) -> EmulationSpec | None:
    if d is None:
        return None
    spec = EmulationSpec(
        machine=d["machine"],
        cpu=d["cpu"],
        float_abi=d["float_abi"],
        fpu=d["fpu"],
        build=d["build"],
        defines=tuple(d.get("defines", ())),
    )
    if QEMU_MACHINES.get(spec.machine) != spec.cpu:
        raise ValueError(
            f"emulation.machine {spec.machine!r} with cpu {spec.cpu!r} is not one the emulation "
            f"layer runs on: {', '.join(f'{m} ({c})' for m, c in QEMU_MACHINES.items())}"
        )
    return spec


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
                staging_bytes=int(link.get("staging_bytes", 0)),
            ),
            platformio=PlatformioSpec(**d["platformio"]),
            footprint_flash_bytes=int(d["footprint"]["flash_bytes"]),
            footprint_ram_bytes=int(d["footprint"]["ram_bytes"]),
            app_flash_bytes=int(d.get("app_flash_bytes", d["flash_bytes"])),
            app_ram_bytes=int(d.get("app_ram_bytes", d["ram_bytes"])),
            emulation=_emulation(d.get("emulation")),
            arduino_board=d.get("arduino_board", ""),
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


def resolve_board(
    name: str, catalog: dict[str, BoardSpec] | None = None
) -> tuple[BoardSpec, BoardKind]:
    """``nano33`` -> (its entry, REAL); ``sim:nano33`` -> (the same entry, SIM); ``qemu:nano33``
    -> (the same entry, QEMU), for a board whose entry declares an emulation target."""
    if name.startswith(MLPERF_PREFIX):
        return mlperf_spec(name.removeprefix(MLPERF_PREFIX)), BoardKind.MLPERF
    catalog = catalog if catalog is not None else load_catalog()
    kind, board_id = BoardKind.REAL, name
    for prefix, prefixed in ((SIM_PREFIX, BoardKind.SIM), (QEMU_PREFIX, BoardKind.QEMU)):
        if name.startswith(prefix):
            kind, board_id = prefixed, name.removeprefix(prefix)
    if board_id not in catalog:
        known = ", ".join(sorted(catalog))
        raise ConfigError(
            f"unknown board {name!r}: the catalog has {known} "
            f"(prefix 'sim:' for a simulated twin, e.g. --board=sim:{next(iter(catalog), '')}; "
            "'qemu:' for an emulated one; 'mlperf:PORT' for an MLPerf Tiny DUT)"
        )
    spec = catalog[board_id]
    if kind is BoardKind.QEMU and spec.emulation is None:
        emulated = ", ".join(f"{QEMU_PREFIX}{b.id}" for b in catalog.values() if b.emulation)
        raise ConfigError(
            f"{board_id} declares no emulation target in the board catalog, so {name} does not "
            f"exist: emulated boards are {emulated or 'none'} (docs/emulated.md)"
        )
    return spec, kind


def mlperf_spec(port: str) -> BoardSpec:
    """The entry of ``mlperf:PORT``: an MLPerf Tiny DUT the catalog does not know, nothing but
    its port; its figures are the DUT's m-lap-us microseconds (harness/mlperf/)."""
    if not port:
        raise ConfigError(
            "--board=mlperf:PORT needs the DUT's serial port, e.g. mlperf:/dev/ttyACM0"
        )
    return BoardSpec(
        id="mlperf",
        name=f"MLPerf Tiny DUT on {port}",
        mcu="unknown",
        cpu="unknown",
        arduino_core="unknown",
        clock_hz=1_000_000,
        flash_bytes=0,
        ram_bytes=0,
        usb_app="",
        usb_bootloader="",
        touch_1200bps=False,
        link=LinkSpec(kind="uart", bytes_per_s=115200 // 10, rx_window=80, baud=115200),
        platformio=PlatformioSpec(env="", board="", platform="", upload_protocol=""),
        footprint_flash_bytes=0,
        footprint_ram_bytes=0,
    )
