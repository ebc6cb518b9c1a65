"""The host end of the protocol: the requests a test makes of a device.

Requests become jobs of frames (``jobs.py``) that the engine (``engine.py``) streams under
the window negotiated at the handshake and repairs when frames are lost; ``transport.py``
moves the bytes. Every wait has a deadline, and a timeout names the deadline it applied.
"""

from __future__ import annotations

import logging
import os
import struct
import time
from collections.abc import Iterable, Iterator

from ..errors import DeviceRebooted, DeviceTimeout, LinkError
from .constants import FRAME_ERRORS, PROTO_VERSION, Err, Msg
from .engine import Engine
from .framing import BadFrame, Frame, encoded_size
from .jobs import ClientCounters, Job, LinkPlan, Sent
from .messages import (
    DeviceInfo,
    InputState,
    OpCycles,
    Result,
    parse_error,
    parse_hello,
    parse_input_state,
    parse_profile,
    parse_result,
    parse_stats,
)
from .transport import Link, Transport

log = logging.getLogger(__name__)

__all__ = ["ClientCounters", "DeviceClient", "Link"]

# Chunks shrink no further under losses: below this the 20 bytes of framing per chunk cost
# more than the resends they save (at a loss of 1e-3 per byte, 128-byte chunks lose 15 %).
MIN_CHUNK = 128


class DeviceClient:
    """Talks to one device over a link.

    ``byte_rate`` is the link's capacity in bytes per second; deadlines scale with it.
    ``latency_s`` is the link's round trip beyond the wire time (default: measured at the
    handshake); with the device's receive window it sets the chunk size (``LinkPlan``).
    """

    def __init__(
        self,
        link: Link,
        *,
        byte_rate: float,
        reply_timeout: float = 1.0,
        invoke_timeout: float = 30.0,
        retries: int = 3,
        latency_s: float | None = None,
        transcript: str | os.PathLike[str] | None = None,
    ):
        self.link = link
        self.byte_rate = byte_rate
        self.reply_timeout = reply_timeout
        self.invoke_timeout = invoke_timeout
        self.retries = retries
        self.latency_s = latency_s
        self.info: DeviceInfo | None = None
        self.plan = LinkPlan(window=64, chunk=16, block=16, latency_s=0.0)
        self.counters = ClientCounters()
        self.transport = Transport(link, transcript)
        self._vector_id = 0
        self._keys = 0
        self._slowest_invoke_s: float | None = None
        self._chunk = self.plan.chunk  # this many bytes per chunk now: less while frames are lost
        self._delivered = 0

    # ---- public requests ----------------------------------------------------------------

    def hello(self) -> DeviceInfo:
        """Handshake: reads the device's description and its boot id; negotiates the chunk."""
        nonce = int.from_bytes(os.urandom(4), "little")
        self.info = None  # a reboot is expected here: do not compare boot ids
        sent0, recv0 = self.transport.bytes_sent, self.transport.bytes_received
        t0 = time.monotonic()
        reply = self._single(Msg.HELLO, struct.pack("<I", nonce), Msg.HELLO_R)
        elapsed = time.monotonic() - t0
        info = parse_hello(reply.payload)
        if info.nonce != nonce:
            raise LinkError(
                f"handshake answered nonce {info.nonce:#x}, sent {nonce:#x}: stale reply"
            )
        if info.proto_version != PROTO_VERSION:
            raise LinkError(
                f"device speaks protocol v{info.proto_version}, this harness v{PROTO_VERSION}: "
                "reflash the device with this harness's firmware"
            )
        if self.latency_s is None:  # the round trip beyond the bytes' wire time
            moved = self.transport.bytes_sent - sent0 + self.transport.bytes_received - recv0
            self.latency_s = min(0.5, max(0.0, elapsed - moved / self.byte_rate))
        self.plan = LinkPlan.negotiate(info, self.byte_rate, self.latency_s)
        self._chunk = self.plan.chunk
        self.info = info
        return info

    def infer(self, data: bytes) -> Result:
        return next(self.infer_stream([data]))

    def infer_stream(self, vectors: Iterable[bytes]) -> Iterator[Result]:
        """Uploads each vector and runs the model once on it; yields results in order.

        The next vector's chunks are already in flight while the device works on this one.
        """
        for job in self._run(self._vector_job(v, None) for v in vectors):
            yield self._result_of(job)

    def benchmark(self, data: bytes, runs: int, warmup: int = 0) -> Result:
        """Uploads one vector, then times ``runs`` invocations after ``warmup`` untimed ones."""
        bound = (self.info.max_runs if self.info else 0) or 0x1FFFE
        if not 1 <= runs <= 0xFFFF or not 0 <= warmup <= 0xFFFF or runs + warmup > bound:
            raise ValueError(
                f"runs must be 1..65535, warmup 0..65535 and runs + warmup <= {bound} "
                f"(the device's bound), got {runs}, {warmup}"
            )
        (job,) = self._run([self._vector_job(data, (runs, warmup))])
        return self._result_of(job)

    def get_output(self, offset: int, length: int) -> bytes:
        reply = self._single(Msg.GET_OUTPUT, struct.pack("<IH", offset, length), Msg.OUTPUT)
        self.check_boot(struct.unpack_from("<I", reply.payload)[0])
        return reply.payload[8:]

    def stats(self) -> dict[str, int]:
        return parse_stats(self._single(Msg.STATS, b"", Msg.STATS_R).payload)

    def echo(self, payload: bytes) -> bytes:
        return self._single(Msg.ECHO, payload, Msg.ECHO_R).payload

    def input_state(self) -> InputState:
        """Which blocks of which vector the device holds."""
        state = parse_input_state(self._single(Msg.INPUT_STATE, b"", Msg.INPUT_STATE_R).payload)
        self.check_boot(state.boot_id)
        return state

    def profile(self) -> tuple[OpCycles, ...]:
        """Per-operator counts of the last invoke (empty before any, or from a backend that
        keeps none)."""
        boot_id, ops = parse_profile(self._single(Msg.PROFILE, b"", Msg.PROFILE_R).payload)
        self.check_boot(boot_id)
        return ops

    def reset(self) -> None:
        """Asks the device to reboot; call hello() afterwards."""
        self._single(Msg.RESET, b"", Msg.RESET_R)
        self.info = None

    def request(self, msg_type: int, payload: bytes, expect: int) -> Frame:
        """Sends one raw request (for protocol tests) and returns its reply frame."""
        return self._single(msg_type, payload, expect)

    def send_raw(self, data: bytes) -> None:
        """Writes bytes as they are, unframed: garbage, truncated frames, fault injection."""
        self.transport.write(data)

    def drain(self, seconds: float) -> list[Frame | BadFrame]:
        """Reads whatever arrives for ``seconds`` (protocol tests)."""
        out: list[Frame | BadFrame] = []
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            out += self.transport.poll(min(left, 0.05))
        return out

    @property
    def rx_tail(self) -> bytes:
        """The last bytes received, for error messages."""
        return self.transport.rx_tail

    def close(self) -> None:
        self.transport.close()

    # ---- jobs ---------------------------------------------------------------------------

    def new_job(self, frames: list[tuple[int, bytes]], **kw) -> Job:
        self._keys += 1
        return Job(self._keys, frames, **kw)

    def _vector_job(self, data: bytes, bench: tuple[int, int] | None) -> Job:
        info = self._need_info()
        if len(data) != info.input_bytes:
            raise ValueError(
                f"input vector has {len(data)} bytes, the model's inputs take {info.input_bytes}"
            )
        self._vector_id = (self._vector_id + 1) & 0xFF
        frames = self.plan.vector_frames(data, self._vector_id, bench, self._chunk)
        return self.new_job(frames, heavy=True, vector=self._vector_id)

    def _single(self, msg_type: int, payload: bytes, expect: int) -> Frame:
        (job,) = self._run([self.new_job([(int(msg_type), payload)])])
        if job.error:
            raise job.error
        assert job.reply is not None
        if job.reply.type != expect:
            raise LinkError(f"expected {Msg(expect).name}, the device answered {job.reply.type:#x}")
        return job.reply

    def _result_of(self, job: Job) -> Result:
        if job.error:
            raise job.error
        assert job.reply is not None
        if job.reply.type != Msg.RESULT:
            raise LinkError(f"expected RESULT, the device answered {job.reply.type:#x}")
        res = parse_result(job.reply.payload)
        self.check_boot(res.boot_id)
        info = self._need_info()
        if res.cycles and info.clock_hz:
            seen = max(res.cycles) / info.clock_hz
            self._slowest_invoke_s = max(self._slowest_invoke_s or 0.0, seen)
        output = res.output
        while len(output) < res.output_total:  # larger than one frame: fetch the rest
            output += self.get_output(len(output), min(0xFF00, res.output_total - len(output)))
        return Result(res.boot_id, res.runs, res.cycles, res.output_total, output)

    def _run(self, jobs: Iterable[Job]) -> Iterator[Job]:
        engine = Engine(self, jobs)
        try:
            yield from engine.run()
        finally:
            self.counters.frames_sent = self.transport.frames_sent
            self.counters.bytes_sent = self.transport.bytes_sent

    # ---- what the engine asks of the client ---------------------------------------------

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
            f"{self.rx_tail[-64:].hex(' ') or 'none'}"
        )

    @staticmethod
    def err_name(code: int) -> str:
        return Err(code).name if code in Err._value2member_map_ else f"E{code}"

    @staticmethod
    def msg_name(msg_type: int) -> str:
        return Msg(msg_type).name if msg_type in Msg._value2member_map_ else f"{msg_type:#x}"

    def _need_info(self) -> DeviceInfo:
        if self.info is None:
            raise LinkError("no handshake yet: call hello() first")
        return self.info


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
