"""Finds attached boards: pyserial's port list matched to catalog entries by USB VID:PID.

A board is chosen by its USB serial number when several of a kind are attached, and found
again by that number after it re-enumerates (the 1200-baud touch, an upload, a reset), never
by "the newest port". The port list is injected so that all of this runs without hardware.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError, LinkError
from .catalog import SIM_PREFIX, BoardSpec

ListPorts = Callable[[], Iterable[Any]]  # returns pyserial ListPortInfo-like objects
POLL_S = 0.25


def system_list_ports() -> Iterable[Any]:
    from serial.tools import list_ports

    return list_ports.comports()


@dataclass(frozen=True)
class AttachedPort:
    device: str
    vid: int | None = None
    pid: int | None = None
    serial_number: str | None = None
    description: str = ""
    manufacturer: str | None = None
    product: str | None = None
    location: str | None = None

    @property
    def usb_id(self) -> str:
        return "" if self.vid is None or self.pid is None else f"{self.vid:04x}:{self.pid:04x}"

    def has_serial(self, serial_number: str) -> bool:
        return (self.serial_number or "").strip().casefold() == serial_number.strip().casefold()

    def is_board(self, serial_number: str) -> bool:
        """This port is the board whose application reports ``serial_number``: the same
        serial, or that serial after leading zeros. The Nano 33 BLE's application reports
        16 hex digits (the chip's FICR device address), its bootloader the same 16 after 16
        zeros (ArduinoCore-mbed's variant.cpp and bootloaders/nano33ble; docs/boards.md)."""
        mine = (self.serial_number or "").strip().casefold()
        wanted = serial_number.strip().casefold()
        if not mine or not wanted:
            return False
        padding = mine.removesuffix(wanted)
        return mine == wanted or (padding != mine and set(padding) == {"0"})

    def describe(self) -> str:
        parts = [self.device, self.usb_id or "no USB id"]
        if self.serial_number:
            parts.append(f"serial {self.serial_number}")
        label = self.product or self.description
        if label and label != "n/a":
            parts.append(f"({label})")
        return " ".join(parts)


@dataclass(frozen=True)
class Match:
    board: BoardSpec
    port: AttachedPort
    role: str  # "app": running firmware; "bootloader": waiting for an upload


def attached_ports(list_ports: ListPorts | None = None) -> list[AttachedPort]:
    ports = []
    for p in (list_ports or system_list_ports)():
        ports.append(
            AttachedPort(
                device=p.device,
                vid=getattr(p, "vid", None),
                pid=getattr(p, "pid", None),
                serial_number=getattr(p, "serial_number", None),
                description=getattr(p, "description", "") or "",
                manufacturer=getattr(p, "manufacturer", None),
                product=getattr(p, "product", None),
                location=getattr(p, "location", None),
            )
        )
    return sorted(ports, key=lambda p: p.device)


def role_of(spec: BoardSpec, port: AttachedPort) -> str | None:
    if not port.usb_id:
        return None
    if port.usb_id == spec.usb_app:
        return "app"
    if spec.usb_bootloader and port.usb_id == spec.usb_bootloader:
        return "bootloader"
    return None


def matches_for_port(port: AttachedPort, catalog: dict[str, BoardSpec]) -> list[Match]:
    """Every catalog entry the port could be (boards sharing USB ids all match)."""
    out = []
    for spec in catalog.values():
        role = role_of(spec, port)
        if role:
            out.append(Match(spec, port, role))
    return out


def describe_ports(ports: list[AttachedPort]) -> str:
    return "; ".join(p.describe() for p in ports) if ports else "no serial ports at all"


def _ids(spec: BoardSpec) -> str:
    boot = f", bootloader {spec.usb_bootloader}" if spec.usb_bootloader else ""
    return f"{spec.name} ({spec.id}: USB {spec.usb_app}{boot})"


def _same_device(a: str, b: str) -> bool:
    return a == b or os.path.realpath(a) == os.path.realpath(b)


def _by_port(
    spec: BoardSpec, port: str, ports: list[AttachedPort], catalog: dict[str, BoardSpec] | None
) -> Match:
    for p in ports:
        if not _same_device(p.device, port):
            continue
        role = role_of(spec, p)
        if role:
            return Match(spec, p, role)
        others = matches_for_port(p, catalog or {})
        what = ", ".join(f"{m.board.id} ({m.board.name})" for m in others) or "no catalog board"
        raise ConfigError(
            f"wrong board on {port}: it is {p.describe()}, which matches {what}, not "
            f"{_ids(spec)}; pass the right --board or --port"
        )
    if "://" in port or os.path.exists(port):
        # A remote port (rfc2217://...) or a device without USB ids (a pty): trust the user.
        return Match(spec, AttachedPort(device=port), "app")
    raise LinkError(
        f"the port {port} does not exist (unplugged?); attached now: {describe_ports(ports)}. "
        "Check `tflm-hil boards`, or drop --port to find the board by its USB ids"
    )


def find_board(
    spec: BoardSpec,
    *,
    serial_number: str | None = None,
    port: str | None = None,
    list_ports: ListPorts | None = None,
    catalog: dict[str, BoardSpec] | None = None,
) -> Match:
    """The one attached board for ``spec``; any other outcome is an error saying what was found."""
    ports = attached_ports(list_ports)
    if port:
        return _by_port(spec, port, ports, catalog)
    candidates = [Match(spec, p, r) for p in ports if (r := role_of(spec, p))]
    if serial_number:
        chosen = [m for m in candidates if m.port.has_serial(serial_number)]
        if len(chosen) == 1:
            return chosen[0]
        if not chosen:
            listed = describe_ports([m.port for m in candidates]) if candidates else "none"
            raise LinkError(
                f"no {_ids(spec)} with USB serial number {serial_number} is attached; boards of "
                f"that kind attached: {listed}; all ports: {describe_ports(ports)}"
            )
        raise ConfigError(  # two ports with one serial number: a broken USB descriptor
            f"several ports carry USB serial number {serial_number}: "
            f"{describe_ports([m.port for m in chosen])}; pass --port"
        )
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise LinkError(
            f"no {_ids(spec)} is attached; found: {describe_ports(ports)}. Plug one in (check "
            f"`tflm-hil boards` and the udev rules in docs/boards.md), pass --port, or run on "
            f"its simulated twin: --board={SIM_PREFIX}{spec.id}"
        )
    listed = "; ".join(m.port.describe() for m in candidates)
    raise ConfigError(
        f"{len(candidates)} boards match {spec.id} ({spec.name}): {listed}. Choose one with "
        "--board-serial SERIAL (or --port)"
    )


def _new_in_role(
    spec: BoardSpec, ports: list[AttachedPort], old: set[str], role: str
) -> list[AttachedPort]:
    return [p for p in ports if role_of(spec, p) == role and p.device not in old]


def wait_for_board(
    spec: BoardSpec,
    serial_number: str,
    role: str,
    timeout: float,
    *,
    list_ports: ListPorts | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    before: Iterable[AttachedPort] | None = None,
) -> tuple[Match | None, list[AttachedPort]]:
    """Polls until the board with this serial number shows up in ``role``, for at most ``timeout``:
    its serial, or the serial with leading zeros (``AttachedPort.is_board``). Given the ports
    seen ``before`` the reset, when no serial matched by the deadline, the only new port in
    ``role`` is taken: a bootloader that reports some other serial still appears where nothing
    was. Only at the deadline, so that another board's port appearing first is never taken
    while ours may still come.

    Returns the match (or None) and the ports seen last, for the caller's error message.
    """
    deadline = clock() + timeout
    old = None if before is None else {p.device for p in before}
    while True:
        ports = attached_ports(list_ports)
        in_role = [p for p in ports if role_of(spec, p) == role]
        for p in in_role:
            if p.is_board(serial_number):
                return Match(spec, p, role), ports
        if clock() >= deadline and old is not None:
            fresh = _new_in_role(spec, ports, old, role)
            return (Match(spec, fresh[0], role) if len(fresh) == 1 else None), ports
        if clock() >= deadline:
            return None, ports
        sleep(POLL_S)


def wait_for_new_port(
    spec: BoardSpec,
    before: list[AttachedPort],
    role: str,
    timeout: float,
    *,
    list_ports: ListPorts | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Match | None:
    """For a board without a USB serial number: the one port in ``role`` that was not there
    ``before``, polled for at most ``timeout`` (None: none, or several, appeared)."""
    deadline = clock() + timeout
    old = {p.device for p in before}
    while True:
        fresh = _new_in_role(spec, attached_ports(list_ports), old, role)
        if len(fresh) == 1:
            return Match(spec, fresh[0], role)
        if clock() >= deadline:
            return None
        sleep(POLL_S)
