"""The host end of the protocol: the requests a test makes of a device.

Requests become jobs of frames (``jobs.py``) that the engine (``engine.py``) streams under
the window negotiated at the handshake and repairs when frames are lost; ``transport.py``
moves the bytes; ``policy.py`` holds the deadlines (every wait has one, and a timeout names
the deadline it applied), reply matching and chunk sizing.
"""

from __future__ import annotations

import logging
import os
import struct
import time
from collections.abc import Iterable, Iterator

from ..errors import LinkError
from .constants import PROTO_VERSION, Msg
from .engine import Engine
from .framing import BadFrame, Frame
from .jobs import ClientCounters, Job, LinkPlan
from .messages import (
    DeviceInfo,
    InputState,
    OpCycles,
    Result,
    parse_hello,
    parse_input_state,
    parse_profile,
    parse_result,
    parse_stats,
)
from .policy import LinkPolicy
from .transport import Link, Transport

log = logging.getLogger(__name__)

__all__ = ["ClientCounters", "DeviceClient", "Link"]



class DeviceClient(LinkPolicy):
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
        super().__init__(
            Transport(link, transcript),
            byte_rate=byte_rate,
            reply_timeout=reply_timeout,
            invoke_timeout=invoke_timeout,
            retries=retries,
        )
        self.link = link
        self.latency_s = latency_s
        self._vector_id = 0

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
        """Asks the device to reboot; call hello() afterwards. A reboot is expected from the
        request on: the boot announcement may arrive in the same read as the reply."""
        self.info = None
        self._single(Msg.RESET, b"", Msg.RESET_R)

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
            self.note_invoke(max(res.cycles) / info.clock_hz)
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

    def _need_info(self) -> DeviceInfo:
        if self.info is None:
            raise LinkError("no handshake yet: call hello() first")
        return self.info
