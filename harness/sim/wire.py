"""The twin's serial port: a pseudo-terminal, and the pacing that makes it as slow as the board's
link (a UART's baud rate, or what a board's USB CDC moves per second)."""

from __future__ import annotations

import os
import termios
import tty
from collections import deque


def open_pty() -> tuple[int, int, str]:
    """A raw pseudo-terminal: (master fd, non-blocking; slave fd, kept open so the port
    survives the host closing it; the slave's path, the port the host opens)."""
    master, slave = os.openpty()
    tty.setraw(slave, termios.TCSANOW)
    os.set_blocking(master, False)
    return master, slave, os.ttyname(slave)


class PacedWire:
    """One direction of the link: bytes leave no faster than the byte rate allows."""

    def __init__(self, rate: float):
        self.rate = rate
        self.queue: deque[tuple[bytes, float]] = deque()  # (bytes, time the first starts)
        self.sent_of_head = 0
        self.busy_until = 0.0

    def push(self, data: bytes, at: float) -> None:
        start = max(self.busy_until, at)
        self.busy_until = start + len(data) / self.rate
        self.queue.append((data, start))

    def due(self, now: float, limit: int | None = None) -> bytes:
        """Bytes whose transmission has completed by ``now`` (at most ``limit``)."""
        out = bytearray()
        while self.queue and (limit is None or len(out) < limit):
            data, start = self.queue[0]
            done = min(len(data), int((now - start) * self.rate))
            take = done - self.sent_of_head
            if limit is not None:
                take = min(take, limit - len(out))
            if take <= 0:
                break
            out += data[self.sent_of_head : self.sent_of_head + take]
            self.sent_of_head += take
            if self.sent_of_head == len(data):
                self.queue.popleft()
                self.sent_of_head = 0
        return bytes(out)

    def unsend(self, data: bytes, now: float) -> None:
        """Puts back bytes that could not be delivered (USB flow control holds them)."""
        if data:
            self.queue.appendleft((data, now))
            self.sent_of_head = 0

    @property
    def queued(self) -> int:
        """Bytes pushed and not yet sent."""
        return sum(len(d) for d, _ in self.queue) - self.sent_of_head

    def flush_to(self, fd: int, now: float) -> None:
        """Writes what is due to a non-blocking fd; what it does not take waits its turn."""
        out = self.due(now)
        while out:
            try:
                n = os.write(fd, out)
            except BlockingIOError:  # the host is not reading: hold the rest
                n = 0
            out = out[n:]
            if n == 0:
                self.unsend(out, now)
                return

    def next_due(self) -> float | None:
        if not self.queue:
            return None
        start = self.queue[0][1]
        return start + (self.sent_of_head + 1) / self.rate
