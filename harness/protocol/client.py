"""The host end of the protocol: requests, windowed and pipelined uploads, recovery.

Every request is a *job* of one or more frames; an input vector is a job of chunks, the
last of which asks the device to invoke. Frames are streamed while the bytes not yet
acknowledged fit the device's receive window, so the wire, not the round trips, limits
throughput. The device handles frames in order and answers each one, so a reply to a
later frame proves an earlier unanswered one was lost: that job and every incomplete job
after it are sent again (uploads are idempotent: offset 0 restarts a vector, the vector id
keeps chunks of two vectors from mixing). A silent device is retried a bounded number of
times and then reported as a timeout with the bytes it sent; a changed boot id is a reboot.
"""

from __future__ import annotations

import logging
import os
import struct
import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

import serial

from ..errors import DeviceErrorReply, DeviceRebooted, DeviceTimeout, LinkError
from .constants import FRAME_ERRORS, INPUT_FLAG_INVOKE, PROTO_VERSION, Err, Msg
from .framing import BadFrame, Frame, FrameDecoder, encode_frame, encoded_size
from .messages import (
    DeviceInfo,
    OpCycles,
    Result,
    parse_error,
    parse_hello,
    parse_profile,
    parse_result,
    parse_stats,
)

log = logging.getLogger(__name__)

SET_INPUT_HEAD = 6  # flags u8 | vector id u8 | offset u32
# How many jobs may be queued ahead of the oldest incomplete one.
MAX_JOBS_AHEAD = 8


class Link(Protocol):
    """What the client needs of a byte link; a pyserial ``Serial`` is one."""

    timeout: float | None

    @property
    def in_waiting(self) -> int: ...

    def write(self, data: bytes, /) -> int | None: ...

    def read(self, size: int = 1, /) -> bytes: ...


@dataclass
class _Job:
    key: int
    frames: list[tuple[int, bytes]]
    heavy: bool = False  # its last frame makes the device run the model
    reply: Frame | None = None
    error: Exception | None = None
    tries: int = 0

    @property
    def done(self) -> bool:
        return self.reply is not None or self.error is not None


@dataclass
class _Sent:
    seq: int
    job: _Job
    index: int
    wire: int
    at: float


@dataclass
class ClientCounters:
    frames_sent: int = 0
    bytes_sent: int = 0
    resends: int = 0
    bad_frames: int = 0
    stale_replies: int = 0
    max_inflight_bytes: int = 0
    errors: dict[str, int] = field(default_factory=dict)


class DeviceClient:
    """Talks to one device over a link.

    ``byte_rate`` is the link's capacity in bytes per second; timeouts scale with it.
    """

    def __init__(
        self,
        link: Link,
        *,
        byte_rate: float,
        reply_timeout: float = 1.0,
        invoke_timeout: float = 30.0,
        retries: int = 3,
        transcript: str | os.PathLike[str] | None = None,
    ):
        self.link = link
        self.byte_rate = byte_rate
        self.reply_timeout = reply_timeout
        self.invoke_timeout = invoke_timeout
        self.retries = retries
        self.info: DeviceInfo | None = None
        self.counters = ClientCounters()
        self._decoder = FrameDecoder()
        # a random first seq: replies a previous client left in the port cannot match ours
        self._seq = int.from_bytes(os.urandom(1), "little")
        self._vector_id = 0
        self._keys = 0
        self._rx_tail = bytearray()
        self._slowest_invoke_s: float | None = None
        self._transcript = open(transcript, "ab") if transcript else None  # noqa: SIM115

    # ---- public requests ----------------------------------------------------------------

    def hello(self) -> DeviceInfo:
        """Handshake: reads the device's description and its boot id."""
        nonce = int.from_bytes(os.urandom(4), "little")
        self.info = None  # a reboot is expected here: do not compare boot ids
        reply = self._single(Msg.HELLO, struct.pack("<I", nonce), Msg.HELLO_R)
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
        if not 1 <= runs <= 0xFFFF or not 0 <= warmup <= 0xFFFF:
            raise ValueError(f"runs must be 1..65535 and warmup 0..65535, got {runs}, {warmup}")
        (job,) = self._run([self._vector_job(data, (runs, warmup))])
        return self._result_of(job)

    def get_output(self, offset: int, length: int) -> bytes:
        reply = self._single(Msg.GET_OUTPUT, struct.pack("<IH", offset, length), Msg.OUTPUT)
        self._check_boot(struct.unpack_from("<I", reply.payload)[0])
        return reply.payload[8:]

    def stats(self) -> dict[str, int]:
        return parse_stats(self._single(Msg.STATS, b"", Msg.STATS_R).payload)

    def echo(self, payload: bytes) -> bytes:
        return self._single(Msg.ECHO, payload, Msg.ECHO_R).payload

    def profile(self) -> tuple[OpCycles, ...]:
        """Per-operator counts of the last invoke (empty before any, or from a backend that
        keeps none)."""
        boot_id, ops = parse_profile(self._single(Msg.PROFILE, b"", Msg.PROFILE_R).payload)
        self._check_boot(boot_id)
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
        self._write(data)

    def drain(self, seconds: float) -> list[Frame | BadFrame]:
        """Reads whatever arrives for ``seconds`` (protocol tests)."""
        out: list[Frame | BadFrame] = []
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            out += self._poll(min(left, 0.05))
        return out

    @property
    def rx_tail(self) -> bytes:
        """The last bytes received, for error messages."""
        return bytes(self._rx_tail)

    def close(self) -> None:
        if self._transcript:
            self._transcript.close()
            self._transcript = None

    # ---- jobs ---------------------------------------------------------------------------

    def _chunk_payload(self) -> int:
        """Largest chunk so that two chunk frames fit in the device's receive window."""
        info = self._need_info()
        window = max(info.rx_window, 64)
        frame_limit = info.max_frame - 8 - SET_INPUT_HEAD
        fit_two = (window // 2) - (window // 2) // 254 - 3 - 8 - SET_INPUT_HEAD
        return max(16, min(frame_limit, fit_two))

    def _vector_job(self, data: bytes, bench: tuple[int, int] | None) -> _Job:
        info = self._need_info()
        if len(data) != info.input_bytes:
            raise ValueError(
                f"input vector has {len(data)} bytes, the model's inputs take {info.input_bytes}"
            )
        self._vector_id = (self._vector_id + 1) & 0xFF
        step = self._chunk_payload()
        frames = []
        offsets = list(range(0, len(data), step)) or [0]
        for i, off in enumerate(offsets):
            last = i == len(offsets) - 1 and bench is None
            flags = INPUT_FLAG_INVOKE if last else 0
            head = struct.pack("<BBI", flags, self._vector_id, off)
            frames.append((int(Msg.SET_INPUT), head + data[off : off + step]))
        if bench is not None:
            frames.append((int(Msg.INVOKE), struct.pack("<HH", *bench)))
        self._keys += 1
        return _Job(self._keys, frames, heavy=True)

    def _single(self, msg_type: int, payload: bytes, expect: int) -> Frame:
        self._keys += 1
        (job,) = self._run([_Job(self._keys, [(int(msg_type), payload)])])
        if job.error:
            raise job.error
        assert job.reply is not None
        if job.reply.type != expect:
            raise LinkError(f"expected {Msg(expect).name}, the device answered {job.reply.type:#x}")
        return job.reply

    def _result_of(self, job: _Job) -> Result:
        if job.error:
            raise job.error
        assert job.reply is not None
        if job.reply.type != Msg.RESULT:
            raise LinkError(f"expected RESULT, the device answered {job.reply.type:#x}")
        res = parse_result(job.reply.payload)
        self._check_boot(res.boot_id)
        info = self._need_info()
        if res.cycles and info.clock_hz:
            seen = max(res.cycles) / info.clock_hz
            self._slowest_invoke_s = max(self._slowest_invoke_s or 0.0, seen)
        output = res.output
        while len(output) < res.output_total:  # larger than one frame: fetch the rest
            output += self.get_output(len(output), min(0xFF00, res.output_total - len(output)))
        return Result(res.boot_id, res.runs, res.cycles, res.output_total, output)

    # ---- the engine ---------------------------------------------------------------------

    def _run(self, jobs: Iterable[_Job]) -> Iterator[_Job]:
        source = iter(jobs)
        pending: deque[_Job] = deque()  # jobs not yet yielded, in order
        unsent: deque[tuple[_Job, int]] = deque()
        inflight: dict[int, _Sent] = {}  # by seq; dicts keep send order
        exhausted = False
        last_progress = time.monotonic()

        def resend_incomplete() -> None:
            inflight.clear()  # their replies are now stale and will be ignored
            unsent.clear()
            first = next(j for j in pending if not j.done)
            first.tries += 1
            self.counters.resends += 1
            if first.tries > self.retries:
                raise self._timeout(first)
            for job in pending:
                if not job.done:
                    unsent.extend((job, i) for i in range(len(job.frames)))

        while True:
            while not exhausted and not unsent and len(pending) < MAX_JOBS_AHEAD:
                nxt = next(source, None)
                if nxt is None:
                    exhausted = True
                    break
                pending.append(nxt)
                unsent.extend((nxt, i) for i in range(len(nxt.frames)))
            in_flight_bytes = sum(s.wire for s in inflight.values())
            window = self.info.rx_window if self.info else 0
            while unsent:
                job, idx = unsent[0]
                msg_type, payload = job.frames[idx]
                wire = encoded_size(len(payload))
                if inflight and in_flight_bytes + wire > window:
                    break
                unsent.popleft()
                seq = self._next_seq()
                self._write(encode_frame(msg_type, seq, payload))
                inflight[seq] = _Sent(seq, job, idx, wire, time.monotonic())
                in_flight_bytes += wire
                self.counters.max_inflight_bytes = max(
                    self.counters.max_inflight_bytes, in_flight_bytes
                )
            while pending and pending[0].done:
                yield pending.popleft()
            if not pending and exhausted:
                return
            if not inflight and not unsent:
                if exhausted or len(pending) >= MAX_JOBS_AHEAD:
                    # unfinished jobs and nothing on its way to answer them: never spin
                    resend_incomplete()
                continue
            for frame in self._poll(0.02):
                if isinstance(frame, BadFrame):
                    self.counters.bad_frames += 1
                    continue
                sent = self._match(frame, inflight)
                if sent is None:
                    continue
                last_progress = time.monotonic()
                earlier = next(iter(inflight)) != sent.seq
                del inflight[sent.seq]
                if earlier:  # in-order device: their replies were lost
                    resend_incomplete()
                    break
                if frame.type == Msg.ERROR:
                    _, code, _, detail, reason = parse_error(frame.payload)
                    if code in (Err.GAP, Err.INCOMPLETE) or code in FRAME_ERRORS:
                        resend_incomplete()
                        break
                    sent.job.error = DeviceErrorReply(
                        code,
                        _err_name(code),
                        detail,
                        reason,
                        _msg_name(sent.job.frames[sent.index][0]),
                    )
                    self._drop_job(sent.job, inflight, unsent)
                elif sent.index == len(sent.job.frames) - 1:
                    sent.job.reply = frame
            else:
                if inflight and time.monotonic() > self._deadline(inflight, last_progress):
                    log.debug("no reply in time; resending %d incomplete jobs", len(pending))
                    resend_incomplete()
                    last_progress = time.monotonic()

    def _drop_job(self, job: _Job, inflight: dict[int, _Sent], unsent: deque) -> None:
        for seq in [s for s, v in inflight.items() if v.job is job]:
            del inflight[seq]
        for item in [u for u in unsent if u[0] is job]:
            unsent.remove(item)

    def _deadline(self, inflight: dict[int, _Sent], last_progress: float) -> float:
        oldest = next(iter(inflight.values()))
        wire = sum(s.wire for s in inflight.values())
        reply = (self.info.output_bytes if self.info else 0) + 512  # a HELLO_R is ~300 bytes
        allowance = self.reply_timeout + (wire + reply) / self.byte_rate
        if oldest.job.heavy and oldest.index == len(oldest.job.frames) - 1:
            allowance += self._invoke_allowance(oldest.job)
        return max(oldest.at, last_progress) + allowance

    def _invoke_allowance(self, job: _Job) -> float:
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

    def _match(self, frame: Frame, inflight: dict[int, _Sent]) -> _Sent | None:
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
            self._check_boot(boot_id)
            name = _err_name(code)
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
            self._check_boot(struct.unpack_from("<I", frame.payload)[0])
        return sent

    def _check_boot(self, boot_id: int) -> None:
        if self.info is not None and boot_id != self.info.boot_id:
            raise DeviceRebooted(self.info.boot_id, boot_id)

    def _timeout(self, job: _Job) -> DeviceTimeout:
        what = ", ".join(_msg_name(t) for t, _ in job.frames[-1:])
        return DeviceTimeout(
            f"no valid reply to {what} after {self.retries} retries "
            f"(reply timeout {self.reply_timeout:.1f}s + wire time at {self.byte_rate:.0f} B/s"
            f"{f' + invoke timeout {self.invoke_timeout:.0f}s' if job.heavy else ''}); "
            f"{self.counters.bad_frames} undecodable frames; last bytes received: "
            f"{self.rx_tail[-64:].hex(' ') or 'none'}"
        )

    def _need_info(self) -> DeviceInfo:
        if self.info is None:
            raise LinkError("no handshake yet: call hello() first")
        return self.info

    # ---- bytes --------------------------------------------------------------------------

    def _next_seq(self) -> int:
        self._seq = (self._seq + 1) & 0xFF
        return self._seq

    def _write(self, data: bytes) -> None:
        try:
            self.link.write(data)
        except (serial.SerialException, OSError) as exc:
            raise LinkError(f"writing to the device failed: {exc}") from exc
        self.counters.frames_sent += 1
        self.counters.bytes_sent += len(data)
        if self._transcript:
            self._transcript.write(b"> " + data.hex().encode() + b"\n")

    def _poll(self, timeout: float) -> list[Frame | BadFrame]:
        try:
            if self.link.timeout != timeout:  # pyserial reconfigures the port on every set
                self.link.timeout = timeout
            data = self.link.read(max(1, self.link.in_waiting))
        except (serial.SerialException, OSError) as exc:
            raise LinkError(f"reading from the device failed (port gone?): {exc}") from exc
        if not data:
            return []
        if self._transcript:
            self._transcript.write(b"< " + data.hex().encode() + b"\n")
        self._rx_tail += data
        del self._rx_tail[:-512]
        return self._decoder.feed(data)


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
}


def _err_name(code: int) -> str:
    return Err(code).name if code in Err._value2member_map_ else f"E{code}"


def _msg_name(msg_type: int) -> str:
    return Msg(msg_type).name if msg_type in Msg._value2member_map_ else f"{msg_type:#x}"
