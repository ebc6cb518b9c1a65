"""Frame encoding: ``type | seq | len | payload | crc32``, COBS-encoded between 0x00 delimiters.

COBS and CRC-32 come from the ``cobs`` package and ``zlib``; only the header layout is ours.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

from cobs import cobs

from .constants import CRC_LEN, FRAME_OVERHEAD, HEADER_LEN

DELIMITER = b"\x00"


@dataclass(frozen=True)
class Frame:
    type: int
    seq: int
    payload: bytes


@dataclass(frozen=True)
class BadFrame:
    """Bytes between delimiters that are not a valid frame (noise, a lost byte, a banner)."""

    raw: bytes
    reason: str


def frame_body(msg_type: int, seq: int, payload: bytes) -> bytes:
    head = struct.pack("<BBH", msg_type, seq & 0xFF, len(payload))
    return head + payload + struct.pack("<I", zlib.crc32(head + payload))


def encode_frame(msg_type: int, seq: int, payload: bytes = b"") -> bytes:
    """The wire bytes of one frame; the leading delimiter flushes any partial frame at the peer."""
    return DELIMITER + cobs.encode(frame_body(msg_type, seq, payload)) + DELIMITER


def encoded_size(payload_len: int) -> int:
    """Wire bytes of a frame with a payload of this length (COBS adds one byte per 254)."""
    body = payload_len + FRAME_OVERHEAD
    return body + body // 254 + 1 + 2


def parse_body(body: bytes) -> Frame | BadFrame:
    if len(body) < FRAME_OVERHEAD:
        return BadFrame(body, "shorter than a frame header")
    msg_type, seq, length = struct.unpack_from("<BBH", body)
    if length + FRAME_OVERHEAD != len(body):
        return BadFrame(body, f"length field {length} does not match {len(body)} bytes")
    (crc,) = struct.unpack_from("<I", body, HEADER_LEN + length)
    if zlib.crc32(body[: HEADER_LEN + length]) != crc:
        return BadFrame(body, "checksum mismatch")
    return Frame(msg_type, seq, bytes(body[HEADER_LEN : HEADER_LEN + length]))


class FrameDecoder:
    """Splits a byte stream into frames; anything else between delimiters becomes a BadFrame."""

    def __init__(self, max_frame: int = 1 << 20):
        self._buf = bytearray()
        self._max = max_frame
        self.noise_bytes = 0

    def feed(self, data: bytes) -> list[Frame | BadFrame]:
        out: list[Frame | BadFrame] = []
        self._buf += data
        while True:
            end = self._buf.find(0)
            if end < 0:
                if len(self._buf) > self._max:  # no delimiter in sight: drop, keep a tail
                    self.noise_bytes += len(self._buf)
                    out.append(BadFrame(bytes(self._buf[:64]), "no delimiter"))
                    self._buf.clear()
                return out
            chunk = bytes(self._buf[:end])
            del self._buf[: end + 1]
            if chunk:
                out.append(self._decode(chunk))

    def _decode(self, chunk: bytes) -> Frame | BadFrame:
        try:
            body = cobs.decode(chunk)
        except cobs.DecodeError as exc:
            self.noise_bytes += len(chunk)
            return BadFrame(chunk, f"not COBS: {exc}")
        frame = parse_body(body)
        if isinstance(frame, BadFrame):
            self.noise_bytes += len(chunk)
        return frame


__all__ = ["CRC_LEN", "BadFrame", "Frame", "FrameDecoder", "encode_frame", "encoded_size"]
