"""The twin's host: one device personality behind a pseudo-terminal, paced like the board.

The link is paced at the board's byte rate in both directions; bytes that reach the device
while it is busy wait in a receive buffer of the board's size (a UART drops what does not
fit, USB CDC holds it back). The device's time is its virtual clock: a reply leaves when the
board would have computed it (with ``timing`` off, at once). A reboot (``reboot()``, or the
firmware's own reset) loses the device's state and the bytes it receives while booting.
"""

from __future__ import annotations

import os
import select
import time
from collections.abc import Callable
from dataclasses import replace

from .personality import BootInfo, DeviceCore, Personality, VirtualClock
from .wire import PacedWire, open_pty

BOOT_DELAY_S = 0.02  # bytes arriving while the board boots are lost, as on a real reset
TICK_S = 0.001


class TwinHost:
    def __init__(
        self,
        personality: Personality,
        info: BootInfo,
        *,
        byte_rate: float,
        drop_on_overflow: bool,
        clock: VirtualClock | None = None,
        timing: bool = True,
    ):
        self.personality = personality
        self.info = info
        self.rx_window = info.rx_window
        self.drop_on_overflow = drop_on_overflow
        self.timing = timing
        self.clock = clock or VirtualClock()
        self.inbound = PacedWire(byte_rate)
        self.outbound = PacedWire(byte_rate)
        self.ring = bytearray()
        self.busy_until = 0.0
        self.reboot_requested = False
        self.boots = 0
        self.booting_until = 0.0
        self.lost_while_booting = 0
        self._feed_t0 = 0.0
        self._feed_c0 = 0
        self.master, self.slave, self.port = open_pty()
        self.core: DeviceCore = self._boot(time.monotonic())

    # ---- device side ----

    def _boot(self, now: float) -> DeviceCore:
        self.boots += 1
        info = replace(self.info, boot_id=int.from_bytes(os.urandom(4), "little") or 1)
        self.ring.clear()
        self.booting_until = now + BOOT_DELAY_S if self.boots > 1 else now
        self.busy_until = self.booting_until
        self._feed_t0, self._feed_c0 = self.busy_until, self.clock.cycles
        self.core = self.personality.boot(info, self._emit, self.clock, self._reset)
        self.core.announce()
        return self.core

    def _reset(self) -> None:
        self.reboot_requested = True

    def _device_time(self) -> float:
        """Wall time the device has reached in the current feed (its virtual clock)."""
        if not self.timing:
            return self._feed_t0
        return self._feed_t0 + (self.clock.cycles - self._feed_c0) / self.info.clock_hz

    def _emit(self, data: bytes) -> None:
        self.outbound.push(data, self._device_time())

    def _process(self, now: float) -> float | None:
        """Delivers what arrived, feeds the device when it is free; returns when the device
        wants its next turn (its own output), if it said."""
        room = self.rx_window - len(self.ring)
        incoming = self.inbound.due(now, None if self.drop_on_overflow else room)
        if now < self.booting_until:
            self.lost_while_booting += len(incoming)  # the board is not listening yet
            incoming = b""
        if len(incoming) > room:  # a UART has no flow control: the excess is lost
            self.core.note_overflow(len(incoming) - room)
            incoming = incoming[:room]
        self.ring += incoming
        if now < self.busy_until:
            return None
        self._feed_t0, self._feed_c0 = now, self.clock.cycles
        if self.ring:
            data = bytes(self.ring)
            self.ring.clear()
            self.core.feed(data)
            self.busy_until = self._device_time()
            if self.reboot_requested:
                self.reboot_requested = False
                self._boot(self.busy_until)
                return None
        return self.core.tick(now, self.outbound.queued)

    # ---- serving ----

    def reboot(self) -> None:
        """An external reset (watchdog, brown-out, the reset button)."""
        self.reboot_requested = False
        self._boot(time.monotonic())

    def _next_event(self, now: float, wake: float | None) -> float:
        due = (self.inbound.next_due(), self.outbound.next_due(), wake)
        times = [t for t in due if t is not None]
        if self.ring:
            times.append(self.busy_until)
        return max(TICK_S, min(times) - now) if times else 0.25

    def serve(
        self,
        stdin_fd: int | None = None,
        reboot_fd: int | None = None,
        should_stop: Callable[[], bool] = lambda: False,
    ) -> None:
        """Serves until should_stop() or, when stdin_fd is given, until it closes."""
        watch = [fd for fd in (self.master, stdin_fd, reboot_fd) if fd is not None]
        wake = self._process(time.monotonic())
        while not should_stop():
            try:
                timeout = self._next_event(time.monotonic(), wake)
                readable, _, _ = select.select(watch, [], [], timeout)
            except InterruptedError:
                continue
            now = time.monotonic()
            if self.master in readable:
                try:
                    data = os.read(self.master, 65536)
                except OSError:  # EAGAIN, or EIO while no process has the port open
                    data = b""
                if data:
                    self.inbound.push(data, now)
            if stdin_fd in readable and not os.read(stdin_fd, 4096):
                return
            if reboot_fd in readable:
                os.read(reboot_fd, 64)
                self.reboot()
            wake = self._process(now)
            self.outbound.flush_to(self.master, now)
