"""Requests as jobs of frames, and the chunk size negotiated from the device and the link.

A job is one request: a single frame, or an input vector as chunks (the last of which asks
the device to invoke, or is followed by an INVOKE for a benchmark).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from ..errors import ConfigError
from .constants import FRAME_OVERHEAD, INPUT_FLAG_INVOKE, Msg
from .framing import Frame, encoded_size
from .messages import DeviceInfo, InputState

SET_INPUT_HEAD = 6  # flags u8 | vector id u8 | offset u32


@dataclass(eq=False)
class Job:
    key: int
    frames: list[tuple[int, bytes]]
    heavy: bool = False  # its last frame makes the device run the model
    vector: int | None = None  # the vector id of an upload
    reply: Frame | None = None
    error: Exception | None = None
    tries: int = 0  # recoveries in a row without a reply to any of its frames
    resends: int = 0  # frames sent again, in all

    @property
    def done(self) -> bool:
        return self.reply is not None or self.error is not None

    def is_final(self, index: int) -> bool:
        return index == len(self.frames) - 1

    def missing(self, state: InputState | None) -> list[int]:
        """Frames to send again after a recovery: all of them, unless the device holds some
        of this vector's chunks (``state``); the final frame always goes again."""
        if state is None or self.vector is None or state.vector != self.vector:
            return list(range(len(self.frames)))
        keep = []
        for i, (msg_type, payload) in enumerate(self.frames):
            if self.is_final(i) or msg_type != Msg.SET_INPUT:
                keep.append(i)
                continue
            (offset,) = struct.unpack_from("<I", payload, 2)
            size = len(payload) - SET_INPUT_HEAD
            blocks = range(offset, offset + max(size, 1), state.block)
            if not all(state.has(o) for o in blocks):
                keep.append(i)
        return keep


@dataclass
class Sent:
    seq: int
    job: Job
    index: int
    wire: int
    at: float


@dataclass
class ClientCounters:
    frames_sent: int = 0
    bytes_sent: int = 0
    resends: int = 0  # frames sent again after a loss
    probes: int = 0  # INPUT_STATE requests: asking the device what it holds
    timeouts: int = 0  # waits that ended at their deadline
    bad_frames: int = 0
    stale_replies: int = 0
    max_inflight_bytes: int = 0
    max_inflight_frames: int = 0
    errors: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class LinkPlan:
    """How the host fills the link: ``window`` bytes unanswered at most, chunks of ``chunk``.

    The window is the device's receive buffer (all of it: a byte beyond it would be lost on a
    UART). A reply takes a round trip to come back, so ``byte_rate * latency`` bytes are
    always in flight unanswered; the chunk is the largest the device's frame takes such that
    two more still fit the window on top of them, so the wire never waits for a reply.
    """

    window: int
    chunk: int
    block: int
    latency_s: float

    @classmethod
    def negotiate(cls, info: DeviceInfo, byte_rate: float, latency_s: float) -> LinkPlan:
        block = max(1, info.input_block)
        frame_limit = info.max_frame - FRAME_OVERHEAD - SET_INPUT_HEAD
        if block > frame_limit and info.input_bytes > frame_limit:
            raise ConfigError(
                f"the device takes the input in blocks of {block} bytes but frames of "
                f"{info.max_frame}: an input of {info.input_bytes} bytes is too large for it"
            )
        window = max(info.rx_window, 64)
        in_round_trip = int(byte_rate * latency_s)
        room = max(window - in_round_trip, window // 4) // 2
        chunk = min(frame_limit, max(block, room - encoded_size(SET_INPUT_HEAD)))
        chunk = max(block, chunk - chunk % block)
        return cls(window, chunk, block, latency_s)

    def vector_frames(
        self, data: bytes, vector: int, bench: tuple[int, int] | None, chunk: int | None = None
    ) -> list[tuple[int, bytes]]:
        """The chunks of one vector (``chunk`` bytes each, a multiple of the block; default:
        the plan's); the last invokes, or an INVOKE follows (a benchmark)."""
        step = chunk or self.chunk
        frames = []
        offsets = list(range(0, len(data), step)) or [0]
        for i, off in enumerate(offsets):
            last = i == len(offsets) - 1 and bench is None
            head = struct.pack("<BBI", INPUT_FLAG_INVOKE if last else 0, vector, off)
            frames.append((int(Msg.SET_INPUT), head + data[off : off + step]))
        if bench is not None:
            frames.append((int(Msg.INVOKE), struct.pack("<HH", *bench)))
        return frames
