"""Board drivers: what acts on a catalog entry, in PlatformIO's stages (build, flash, link).

The split follows labgrid: the catalog entry is the resource (what exists), a driver is what
acts on it. Each stage is a method a subclass overrides, as pytest-embedded's services
override a few hooks; everything after the link (protocol, references, gates) is shared.
"""

from __future__ import annotations

import abc
import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import serial

from ..errors import LinkError
from ..provenance import Provenance
from ..tflite.model import TfliteModel
from .catalog import BoardSpec


@dataclass(frozen=True)
class Image:
    """Firmware for one board with one model inside, identified by the hash of its inputs."""

    board: BoardSpec
    model: TfliteModel
    image_hash: str
    arena_size: int
    flash_bytes: int
    ram_bytes: int
    provenance: Provenance  # of the sizes: a linked ELF, the emulation image's ELF, the twin
    path: Path | None = None
    extra: dict = field(default_factory=dict)


@dataclass
class Device:
    """A running device: where its link is, how fast it carries bytes, and how long the
    client waits for it (the protocol client's defaults suit a board and the twin)."""

    port: str
    byte_rate: float
    image: Image
    serial_number: str = ""
    reply_timeout: float = 1.0
    invoke_timeout: float = 30.0


@dataclass
class DriverOptions:
    port: str | None = None
    board_serial: str | None = None
    arena: int | None = None
    reflash: bool = False
    no_flash: bool = False
    log_dir: Path | None = None
    baud: int | None = None
    lock_timeout: float | None = None  # seconds to wait for a board another run holds
    place: str | None = None  # a labgrid place (--board=labgrid:PLACE): harness/lab/
    mlperf_model: str | None = None  # mlperf:PORT: the benchmark id the DUT reports


class BoardDriver(abc.ABC):
    """Builds an image, puts it on the board, and owns the link to it.

    Lifecycle, as labgrid's drivers: ``build`` -> ``flash`` -> ``link`` (opened once, kept)
    -> ``reboot`` (any number of times) -> ``close`` (the link, then what ``release`` frees).
    A subclass implements ``build`` and ``flash``, and may override ``open_link`` (how its port
    opens), ``reboot`` (a reset line), ``reconnect`` (a board that re-enumerates after a reset)
    and ``release`` (its processes and locks).
    """

    simulated = False
    provenance = Provenance.MEASURED  # of the device's figures
    # The device computes with the board's pinned TFLM library (HIL_TFLM_REF), as a real or
    # an emulated board does. A twin with other kernels sets it False, and the pin gate
    # (tests_hil/test_pin_compat.py) then judges the model against that library's known issues.
    pinned_library = True
    # The device describes itself in our handshake (protocol, arena, stack, per-operator
    # counts) and the image's sizes are known. An MLPerf Tiny DUT reports only a benchmark
    # id: the suite's tests of those figures skip for it, saying so.
    describes_itself = True

    def __init__(self, spec: BoardSpec, options: DriverOptions | None = None):
        self.spec = spec
        self.options = options or DriverOptions()
        self._link: serial.Serial | None = None
        self._link_device: Device | None = None

    @abc.abstractmethod
    def build(self, model: TfliteModel) -> Image: ...

    @abc.abstractmethod
    def flash(self, image: Image) -> Device: ...

    def link(self, device: Device, timeout: float = 0.05) -> serial.Serial:
        """The link to ``device``: opened on first use, then the same one until ``close_link``
        (a new device, after a new ``flash``, gets a new link)."""
        if self._link is not None and self._link_device is not device:
            self.close_link()
        if self._link is None:
            self._link = self.open_link(device, timeout)
            self._link_device = device
        return self._link

    def open_link(self, device: Device, timeout: float) -> serial.Serial:
        """Opens the device's port with pyserial (local path, or a URL such as rfc2217://)."""
        baud = self.spec.link.baud or 115200  # USB CDC ignores the rate
        try:
            return serial.serial_for_url(
                device.port, baudrate=baud, timeout=timeout, exclusive=True
            )
        except (serial.SerialException, OSError, ValueError) as exc:
            raise LinkError(f"cannot open {device.port} for {self.spec.name}: {exc}") from exc

    def make_client(self, link: serial.Serial, device: Device, transcript: Path | None) -> Any:
        """The client of a device that speaks another protocol than ours (an MLPerf Tiny DUT
        speaks MLPerf's text protocol), or None: ours (harness/protocol/client.py)."""
        return None

    def close_link(self) -> None:
        """Closes the link if one is open (again: nothing)."""
        link, self._link, self._link_device = self._link, None, None
        if link is not None:
            with contextlib.suppress(serial.SerialException, OSError):
                link.close()

    def reboot(self, device: Device) -> bool:
        """Resets the device through a line of its own (a signal, the emulator's reset); False:
        this board kind has none, and the caller asks the firmware (the protocol's RESET).
        Either way the caller then takes ``reconnect(device)`` and handshakes again."""
        return False

    def reconnect(self, device: Device) -> serial.Serial:
        """The link after a reset: the same one where the port survives it (a pty, a UART);
        a board that re-enumerates on USB closes it and finds the board again."""
        return self.link(device)

    def release(self) -> None:  # noqa: B027 - optional stage
        """Frees what the driver holds besides the link: processes, locks."""

    def close(self) -> None:
        """The end of the lifecycle: the link first (it may be the process's pty), then the rest."""
        self.close_link()
        self.release()
