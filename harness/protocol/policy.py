"""What the engine needs to know of a device and its link: how long a reply may take, which
request a reply answers, how large a chunk to send now. ``DeviceClient`` is one."""

from __future__ import annotations

import logging
import struct

from ..errors import DeviceRebooted, DeviceTimeout
from .constants import FRAME_ERRORS, Err, Msg
from .framing import Frame, encoded_size
from .jobs import ClientCounters, Job, LinkPlan, Sent
from .messages import DeviceInfo, parse_error
from .transport import Transport

log = logging.getLogger(__name__)

# Chunks shrink no further under losses: below this the 20 bytes of framing per chunk cost
# more than the resends they save (at a loss of 1e-3 per byte, 128-byte chunks lose 15 %).
MIN_CHUNK = 128


class LinkPolicy:
    """Deadlines, reply matching and chunk sizing for one device over one transport."""

    def __init__(
        self,
        transport: Transport,
        *,
        byte_rate: float,
        reply_timeout: float,
        invoke_timeout: float,
        retries: int,
    ):
        self.transport = transport
        self.byte_rate = byte_rate
        self.reply_timeout = reply_timeout
        self.invoke_timeout = invoke_timeout
        self.retries = retries
        self.info: DeviceInfo | None = None
        self.plan = LinkPlan(window=64, chunk=16, block=16, latency_s=0.0)
        self.counters = ClientCounters()
        self._keys = 0
        self._slowest_invoke_s: float | None = None
        self._chunk = self.plan.chunk  # this many bytes per chunk now: less while frames are lost
        self._delivered = 0

    def new_job(self, frames: list[tuple[int, bytes]], **kw) -> Job:
        self._keys += 1
        return Job(self._keys, frames, **kw)

    def note_invoke(self, seconds: float) -> None:
        """An inference took this long: later invoke allowances follow the slowest seen."""
        self._slowest_invoke_s = max(self._slowest_invoke_s or 0.0, seconds)

    def on_lost(self) -> None:
        """A frame was lost: later vectors go in chunks half as large (a damaged link loses
        a frame in proportion to its length), down to MIN_CHUNK bytes (or the input block)."""
        floor = max(self.plan.block, MIN_CHUNK // self.plan.block * self.plan.block)
        half = self._chunk // 2 // self.plan.block * self.plan.block
        self._chunk = min(self._chunk, max(floor, half))
        self._delivered = 0

    def on_delivered(self) -> None:
        """A frame was answered: after 16 in a row, chunks grow back towards the plan's."""
        self._delivered += 1
        if self._delivered >= 16 and self._chunk < self.plan.chunk:
            self._chunk = min(self.plan.chunk, self._chunk * 2)
            self._delivered = 0

    def wire_size(self, payload: bytes) -> int:
        return encoded_size(len(payload))

    def deadline(self, inflight: dict[int, Sent], last_progress: float) -> tuple[float, str]:
        """When to give up waiting for the oldest frame in flight, and the deadline in words."""
        oldest = next(iter(inflight.values()))
        wire = sum(s.wire for s in inflight.values())
        reply = (self.info.output_bytes if self.info else 0) + 512  # a HELLO_R is ~300 bytes
        wire_s = (wire + reply) / self.byte_rate
        invoke_s = sum(
            self._invoke_allowance(s.job)
            for s in inflight.values()
            if s.job.heavy and s.job.is_final(s.index)
        )
        allowance = self.reply_timeout + wire_s + invoke_s
        why = (
            f"{allowance:.2f}s (reply timeout {self.reply_timeout:.2f}s + wire time "
            f"{wire_s:.2f}s at {self.byte_rate:.0f} B/s"
            + (f" + invoke allowance {invoke_s:.2f}s" if invoke_s else "")
            + ")"
        )
        return max(oldest.at, last_progress) + allowance, why

    def quiet_limit(self, inflight: dict[int, Sent]) -> float:
        """How long a silence may last before the engine asks what became of its frames: a
        reply's time without the invoke allowance."""
        wire = sum(s.wire for s in inflight.values())
        reply = (self.info.output_bytes if self.info else 0) + 512
        return self.reply_timeout + (wire + reply) / self.byte_rate

    def _invoke_allowance(self, job: Job) -> float:
        """invoke_timeout until an inference was seen; then ten times the slowest seen (>= 1 s),
        so that a lost request costs seconds, not the full invoke timeout."""
        if self._slowest_invoke_s is None:
            return self.invoke_timeout
        runs = (
            struct.unpack_from("<HH", job.frames[-1][1])
            if job.frames[-1][0] == Msg.INVOKE
            else (1, 0)
        )
        return min(self.invoke_timeout, max(1.0, 10 * self._slowest_invoke_s * sum(runs)))

    def match(self, frame: Frame, inflight: dict[int, Sent]) -> Sent | None:
        """The request a frame answers, or None for stale replies and notices."""
        if frame.type == Msg.BOOT:
            boot_id = (
                struct.unpack_from("<I", frame.payload)[0] if len(frame.payload) >= 4 else None
            )
            if self.info is not None:
                raise DeviceRebooted(self.info.boot_id, boot_id)
            return None
        if frame.type == Msg.ERROR:
            boot_id, code, req, _, reason = parse_error(frame.payload)
            self.check_boot(boot_id)
            name = self.err_name(code)
            self.counters.errors[name] = self.counters.errors.get(name, 0) + 1
            sent = inflight.get(frame.seq)
            if sent is None or (code in FRAME_ERRORS and sent.job.frames[sent.index][0] != req):
                log.debug("unmatched device error %s: %s", name, reason)
                return None
            return sent
        sent = inflight.get(frame.seq)
        if sent is None or frame.type not in _REPLIES.get(sent.job.frames[sent.index][0], ()):
            self.counters.stale_replies += 1
            return None
        if frame.type == Msg.ACK:
            self.check_boot(struct.unpack_from("<I", frame.payload)[0])
        return sent

    def check_boot(self, boot_id: int) -> None:
        if self.info is not None and boot_id != self.info.boot_id:
            raise DeviceRebooted(self.info.boot_id, boot_id)

    def timeout_error(self, job: Job, why: str) -> DeviceTimeout:
        what = self.msg_name(job.frames[-1][0])
        return DeviceTimeout(
            f"no valid reply to {what} after {self.retries} retries: {why}; "
            f"{self.counters.bad_frames} undecodable frames; last bytes received: "
            f"{self.transport.rx_tail[-64:].hex(' ') or 'none'}"
        )

    @staticmethod
    def err_name(code: int) -> str:
        return Err(code).name if code in Err._value2member_map_ else f"E{code}"

    @staticmethod
    def msg_name(msg_type: int) -> str:
        return Msg(msg_type).name if msg_type in Msg._value2member_map_ else f"{msg_type:#x}"


# The replies each request may get besides ERROR.
_REPLIES: dict[int, frozenset[int]] = {
    Msg.HELLO: frozenset({Msg.HELLO_R}),
    Msg.SET_INPUT: frozenset({Msg.ACK, Msg.RESULT}),
    Msg.INVOKE: frozenset({Msg.RESULT}),
    Msg.GET_OUTPUT: frozenset({Msg.OUTPUT}),
    Msg.STATS: frozenset({Msg.STATS_R}),
    Msg.RESET: frozenset({Msg.RESET_R}),
    Msg.ECHO: frozenset({Msg.ECHO_R}),
    Msg.PROFILE: frozenset({Msg.PROFILE_R}),
    Msg.INPUT_STATE: frozenset({Msg.INPUT_STATE_R}),
}
