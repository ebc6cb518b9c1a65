"""The rig: everything a real board's driver touches outside Python (the USB port list, the
``pio`` process, the probe, the 1200-baud touch, time). The tests pass a fake bench with the
same six methods; ``SystemRig`` is the machine's own."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Protocol

from ..boards.discovery import system_list_ports
from .cmd import run_streaming
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

    def list_ports(self) -> Iterable[Any]:
        return system_list_ports()

    def run(
        self,
        cmd: list[str],
        env: Mapping[str, str],
        log_path: Path,
        on_line: Callable[[str], None],
        timeout: float,
    ) -> int:
        return run_streaming(cmd, env, log_path, on_line, timeout)

    def probe(self, port: str, rate: float) -> Probe:
        return probe_image(port, rate)

    def touch(self, port: str) -> None:
        touch_1200(port)

    def sleep(self, s: float) -> None:
        time.sleep(s)

    def clock(self) -> float:
        return time.monotonic()
