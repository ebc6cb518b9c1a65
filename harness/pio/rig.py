"""The rig: everything a real board's driver touches outside Python (the USB port list, the
``pio`` process, the probe, the 1200-baud touch, time). The tests pass a fake bench with the
same six methods; ``SystemRig`` is the machine's own. ``PioStage``: what the builder and the
flasher share."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ..boards.catalog import BoardSpec
from ..boards.discovery import system_list_ports
from ..boards.driver import DriverOptions
from .cmd import PioPlaces, run_streaming
from .probe import Probe, probe_image, touch_1200


class Rig(Protocol):
    def list_ports(self) -> Iterable[Any]: ...  # pyserial ListPortInfo-like objects

    def run(
        self,
        cmd: list[str],
        env: Mapping[str, str],
        log_path: Path,
        on_line: Callable[[str], None],
        timeout: float,
    ) -> int: ...  # exit status; raises TimeoutError

    def probe(self, port: str, rate: float) -> Probe: ...

    def touch(self, port: str) -> None: ...

    def sleep(self, s: float) -> None: ...

    def clock(self) -> float: ...


class SystemRig:
    """This machine: pyserial's port list, PlatformIO as a process, the board's own firmware."""

    list_ports = staticmethod(system_list_ports)
    run = staticmethod(run_streaming)
    probe = staticmethod(probe_image)
    touch = staticmethod(touch_1200)
    sleep = staticmethod(time.sleep)
    clock = staticmethod(time.monotonic)


@dataclass
class PioStage:
    """What a stage of the real board's driver (the image builder, the flasher) works with."""

    spec: BoardSpec
    options: DriverOptions
    rig: Rig
    places: PioPlaces
    emit: Callable[[str], None]  # progress lines
