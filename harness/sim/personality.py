"""What the twin's host (harness/sim/host.py) drives: a device personality and its core.

A personality is one firmware's device side: ours (``hil``), MLPerf Tiny's text protocol
(``mlperf``), the data forwarder (``forwarder``). It is made once per twin, and makes a fresh
core at every boot, as a board's reset starts its firmware over. A core is the firmware's C
module behind ctypes: it is fed the bytes the device received and emits the bytes it sends.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class BootInfo:
    """What a device says about itself at boot (our handshake's HELLO carries all of it)."""

    board: str
    cpu: str
    fw_version: str
    tflm_version: str
    core_version: str
    model_hash: str  # hex
    image_hash: str  # hex
    arena_size: int
    clock_hz: int
    rx_window: int  # the whole receive buffer, staging included
    flags: int
    staging: int = 0  # of rx_window, bytes for the next vector while the model runs
    boot_id: int = 0  # a new one at every boot, set by the host


class VirtualClock:
    """The device's cycle counter. The backend advances it by the estimated cost of each
    invoke; the host reads it to send a reply when the board would have finished."""

    def __init__(self) -> None:
        self.cycles = 0

    def add(self, n: int) -> None:
        self.cycles += n


class DeviceCore(abc.ABC):
    @abc.abstractmethod
    def announce(self) -> None:
        """What the firmware sends when it has booted."""

    @abc.abstractmethod
    def feed(self, data: bytes) -> None:
        """Bytes the device received; its replies go out through the ``emit`` it was given."""

    def note_overflow(self, lost: int) -> None:  # noqa: B027 (a core may not count losses)
        """``lost`` bytes did not fit the receive buffer (a UART has no flow control)."""

    def tick(self, now: float, queued: int) -> float | None:
        """Called on every turn of the host's loop, for a device that sends on its own (the
        forwarder streams): ``queued`` bytes wait on the outbound wire. Returns when it wants
        the next turn at the latest (monotonic seconds), or None."""
        return None


Emit = Callable[[bytes], None]


class Personality(Protocol):
    name: str

    def boot(
        self, info: BootInfo, emit: Emit, clock: VirtualClock, reset: Callable[[], None]
    ) -> DeviceCore:
        """A fresh core. ``reset``: what the firmware calls to reset the board (our RESET)."""
        ...
