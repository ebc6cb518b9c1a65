"""Bytes to and from one device: sequence numbers, frame decoding, the transcript."""

from __future__ import annotations

import os
from typing import Protocol

import serial

from ..errors import LinkError
from .framing import BadFrame, Frame, FrameDecoder, encode_frame


class Link(Protocol):
    """What the client needs of a byte link; a pyserial ``Serial`` is one."""

    timeout: float | None

    @property
    def in_waiting(self) -> int: ...

    def write(self, data: bytes, /) -> int | None: ...

    def read(self, size: int = 1, /) -> bytes: ...


class Transport:
    """Writes frames, reads and decodes what arrives; every I/O failure is a ``LinkError``.

    ``transcript`` (a path) receives every byte each way as hex lines, ``>`` sent, ``<`` read.
    """

    def __init__(self, link: Link, transcript: str | os.PathLike[str] | None = None):
        self.link = link
        self.frames_sent = 0
        self.bytes_sent = 0
        self.bytes_received = 0
        self._decoder = FrameDecoder()
        # a random first seq: replies a previous client left in the port cannot match ours
        self._seq = int.from_bytes(os.urandom(1), "little")
        self._rx_tail = bytearray()
        self._transcript = open(transcript, "ab") if transcript else None  # noqa: SIM115

    @property
    def rx_tail(self) -> bytes:
        """The last bytes received (at most 512), for error messages."""
        return bytes(self._rx_tail)

    def next_seq(self) -> int:
        self._seq = (self._seq + 1) & 0xFF
        return self._seq

    def send(self, msg_type: int, seq: int, payload: bytes) -> None:
        self.write(encode_frame(msg_type, seq, payload))

    def write(self, data: bytes) -> None:
        try:
            self.link.write(data)
        except (serial.SerialException, OSError) as exc:
            raise LinkError(f"writing to the device failed (port gone?): {exc}") from exc
        self.frames_sent += 1
        self.bytes_sent += len(data)
        if self._transcript:
            self._transcript.write(b"> " + data.hex().encode() + b"\n")

    def poll(self, timeout: float) -> list[Frame | BadFrame]:
        """What arrives within ``timeout`` seconds (returns as soon as anything does)."""
        try:
            if self.link.timeout != timeout:  # pyserial reconfigures the port on every set
                self.link.timeout = timeout
            data = self.link.read(max(1, self.link.in_waiting))
        except (serial.SerialException, OSError, TypeError) as exc:
            # pyserial raises TypeError when the port was closed under it
            raise LinkError(f"reading from the device failed (port gone?): {exc}") from exc
        if not data:
            return []
        self.bytes_received += len(data)
        if self._transcript:
            self._transcript.write(b"< " + data.hex().encode() + b"\n")
        self._rx_tail += data
        del self._rx_tail[:-512]
        return self._decoder.feed(data)

    def close(self) -> None:
        if self._transcript:
            self._transcript.close()
            self._transcript = None
