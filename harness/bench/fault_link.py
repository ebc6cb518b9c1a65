"""A pyserial port that damages the bytes through it: the fault bench's link.

Byte faults apply to each byte, both ways, with probability ``rate``: ``drop`` loses it,
``duplicate`` sends it twice, ``bitflip`` flips one of its bits, ``garbage`` inserts a burst
of 1-32 random bytes before it. Event faults strike before a vector with probability
``rate``: ``stall`` stops delivering received bytes for ``STALL_S``, ``vanish`` makes the
port fail as an unplugged board's does (the bench opens it again), ``reboot`` is done by the
bench (the twin resets). Hand-written: no library injects faults into a pyserial stream.
"""

from __future__ import annotations

import time

import numpy as np
import serial

from .link import CountingLink

BYTE_FAULTS = ("drop", "duplicate", "bitflip", "garbage")
EVENT_FAULTS = ("stall", "reboot", "vanish")
STALL_S = 1.5  # longer than the client's reply timeout: the stall is felt


class FaultyLink(CountingLink):
    """The Link interface of the clients over a pyserial port, with one kind of fault."""

    def __init__(self, port: serial.Serial, fault: str, rate: float, seed: int = 0):
        if fault not in BYTE_FAULTS + EVENT_FAULTS:
            raise ValueError(f"unknown fault {fault!r}: one of {BYTE_FAULTS + EVENT_FAULTS}")
        super().__init__(port)
        self.fault = fault
        self.rate = rate
        self.rng = np.random.default_rng(seed)
        self.injected = 0
        self.vanished = False
        self._stalled_until = 0.0

    # ---- the bench's events ----

    def before_vector(self) -> str | None:
        """Strikes an event fault with probability ``rate``; returns its name."""
        if self.fault not in EVENT_FAULTS or self.rng.random() >= self.rate:
            return None
        self.injected += 1
        if self.fault == "stall":
            self._stalled_until = time.monotonic() + STALL_S
        elif self.fault == "vanish":
            self.vanished = True
        return self.fault

    # ---- Link (CountingLink counts what passes, as the wire carries it) ----

    @property
    def in_waiting(self) -> int:
        self._check()
        return 0 if time.monotonic() < self._stalled_until else int(self.port.in_waiting)

    def write(self, data: bytes, /) -> int | None:
        self._check()
        super().write(self._damage(data))
        return len(data)

    def read(self, size: int = 1, /) -> bytes:
        self._check()
        if time.monotonic() < self._stalled_until:
            time.sleep(min(self.port.timeout or 0.0, self._stalled_until - time.monotonic()))
            return b""
        return self._damage(super().read(size))

    def _check(self) -> None:
        if self.vanished:
            raise serial.SerialException("device disconnected (fault bench: vanish)")

    def _damage(self, data: bytes) -> bytes:
        if self.fault not in BYTE_FAULTS or not data:
            return data
        hits = np.flatnonzero(self.rng.random(len(data)) < self.rate)
        if not len(hits):
            return data
        self.injected += len(hits)
        out = bytearray()
        prev = 0
        for i in map(int, hits):
            out += data[prev:i]
            b = data[i]
            if self.fault == "duplicate":
                out += bytes((b, b))
            elif self.fault == "bitflip":
                out.append(b ^ (1 << int(self.rng.integers(8))))
            elif self.fault == "garbage":
                out += self.rng.integers(0, 256, int(self.rng.integers(1, 33)), np.uint8).tobytes()
                out.append(b)
            # drop: nothing
            prev = i + 1
        out += data[prev:]
        return bytes(out)
