"""The pipeline: jobs' frames streamed under the window, losses found and repaired.

The device handles frames in order and answers each one, so a reply to a later frame proves
that an earlier unanswered one (or its reply) was lost: only that frame goes again. Uploads
are idempotent (a chunk carries its vector id and offset; the device keeps one bit per block
it holds), so a repeat is harmless. When the state of the device is in doubt (an invoke
refused as INCOMPLETE, no reply by the deadline), the engine asks it which blocks it holds
(INPUT_STATE) and sends only what is missing. A silent device is retried ``retries`` times
in a row, then reported as a timeout that names the deadline applied; a job that needs more
than ``RESENDS_PER_FRAME`` resends per frame fails: the link is too damaged to use.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Iterable, Iterator

from ..errors import DeviceErrorReply, LinkError
from .constants import FRAME_ERRORS, Err, Msg
from .framing import BadFrame, Frame
from .jobs import ClientCounters, Job, Sent
from .messages import InputState, parse_error, parse_input_state
from .policy import LinkPolicy

log = logging.getLogger(__name__)

# Jobs queued ahead of the oldest incomplete one: the window, not this, bounds what is in
# flight; 32 one-frame vectors keep a fast link busy through a host or device hiccup of a
# third of a second at 1,000,000 baud.
MAX_JOBS_AHEAD = 32
# Frames whose reply may still come must have distinct 8-bit sequence numbers, or a reply
# could match the wrong frame: at most 96 in flight, plus at most MAX_NUDGES INPUT_STATEs
# written off since the last reply. (Frames written off by a recovery are answered before
# its INPUT_STATE is, and nothing new is sent until then.)
MAX_FRAMES_IN_FLIGHT = 96
# INPUT_STATE requests sent to break a silence (see _nudge) since the last reply.
MAX_NUDGES = 16
RESENDS_PER_FRAME = 16
POLL_S = 0.02


class Sender:
    """The sending half: frames under the window, and the INPUT_STATE requests that make a
    loss visible before the deadline."""

    def __init__(self, client: LinkPolicy, jobs: Iterable[Job]):
        self.c = client  # transport, plan, deadlines, counters, matching
        self.source = iter(jobs)
        self.pending: deque[Job] = deque()  # jobs not yet yielded, in order
        self.unsent: deque[tuple[Job, int]] = deque()
        self.inflight: dict[int, Sent] = {}  # by seq; dicts keep send order
        self.probe: Job | None = None  # an INPUT_STATE request in flight
        self.sentinel: Job | None = None  # an INPUT_STATE behind an invoke, see _send
        self.nudges = 0
        self.last_nudge = 0.0
        self.exhausted = False
        self.last_progress = time.monotonic()

    @property
    def counters(self) -> ClientCounters:
        return self.c.counters

    # ---- sending ------------------------------------------------------------------------

    def _refill(self) -> None:
        while not self.exhausted and not self.unsent and len(self.pending) < MAX_JOBS_AHEAD:
            nxt = next(self.source, None)
            if nxt is None:
                self.exhausted = True
                return
            self.pending.append(nxt)
            self.unsent.extend((nxt, i) for i in range(len(nxt.frames)))

    def _send(self) -> None:
        if self.probe is not None:
            return  # nothing else until the device said what it holds
        in_flight = sum(s.wire for s in self.inflight.values())
        while self.unsent:
            job, idx = self.unsent[0]
            wire = self.c.wire_size(job.frames[idx][1])
            if self.inflight and (
                in_flight + wire > self.c.plan.window or len(self.inflight) >= MAX_FRAMES_IN_FLIGHT
            ):
                break
            self.unsent.popleft()
            self._put(job, idx, wire)
            in_flight += wire
            self.counters.max_inflight_bytes = max(self.counters.max_inflight_bytes, in_flight)
            self.counters.max_inflight_frames = max(
                self.counters.max_inflight_frames, len(self.inflight)
            )
        dry = self.exhausted or len(self.pending) >= MAX_JOBS_AHEAD  # no frame will follow
        if (
            dry
            and not self.unsent
            and self.sentinel is None
            and 0 < len(self.inflight) < MAX_FRAMES_IN_FLIGHT
        ):
            # Nothing follows the invoke: were it or its result lost, only the deadline would
            # tell. A cheap request behind it makes the in-order rule tell at once instead.
            last = next(reversed(self.inflight.values()))
            if _single_invoke(last):
                self.sentinel = self.c.new_job([(int(Msg.INPUT_STATE), b"")])
                self._put(self.sentinel, 0, self.c.wire_size(b""))

    def _quiet_until(self) -> float:
        return max(self.last_progress, self.last_nudge) + self.c.quiet_limit(self.inflight)

    def _nudge(self) -> None:
        """Silence longer than a reply takes, but short of the deadline (which allows for an
        invoke): a request lost, or its reply? A fresh INPUT_STATE asks; its reply, behind
        whatever the device still owes, tells by the in-order rule, long before the deadline
        would. It costs nothing when the device is only busy computing."""
        if self.nudges >= MAX_NUDGES or any(
            s.job.frames[s.index][0] == Msg.INVOKE for s in self.inflight.values()
        ):  # a benchmark's timed runs are never disturbed: its deadline alone applies
            return
        self.nudges += 1
        if self.sentinel is not None:  # no answer to it either: write it off
            self.inflight = {k: v for k, v in self.inflight.items() if v.job is not self.sentinel}
        self.sentinel = self.c.new_job([(int(Msg.INPUT_STATE), b"")])
        self._put(self.sentinel, 0, self.c.wire_size(b""))
        self.last_nudge = time.monotonic()

    def _put(self, job: Job, idx: int, wire: int) -> None:
        seq = self.c.transport.next_seq()
        msg_type, payload = job.frames[idx]
        self.c.transport.send(msg_type, seq, payload)
        self.inflight[seq] = Sent(seq, job, idx, wire, time.monotonic())


def _single_invoke(sent: Sent) -> bool:
    """An uploaded vector's invoking chunk (not a benchmark's INVOKE: its timed runs are never
    disturbed by a request arriving meanwhile)."""
    job = sent.job
    return job.heavy and job.is_final(sent.index) and job.frames[sent.index][0] == Msg.SET_INPUT


class Engine(Sender):
    """Runs jobs through a client's transport; see the module docstring."""

    def run(self) -> Iterator[Job]:
        while True:
            self._refill()
            self._send()
            while self.pending and self.pending[0].done:
                yield self.pending.popleft()
            if not self.pending and self.exhausted:
                return
            if not self.inflight and not self.unsent:
                # unfinished jobs and nothing on its way to answer them: never spin
                self._recover("nothing in flight for an unfinished request")
                continue
            frames = self.c.transport.poll(POLL_S)
            for frame in frames:
                self._handle(frame)
            if not frames and self.inflight:
                deadline, why = self.c.deadline(self.inflight, self.last_progress)
                if time.monotonic() > deadline:
                    self.counters.timeouts += 1
                    self._recover(f"no reply within {why}")
                elif time.monotonic() > self._quiet_until():
                    self._nudge()

    # ---- receiving ----------------------------------------------------------------------

    def _handle(self, frame: Frame | BadFrame) -> None:
        if isinstance(frame, BadFrame):
            self.counters.bad_frames += 1
            return
        sent = self.c.match(frame, self.inflight)
        if sent is None:
            return
        self.last_progress = time.monotonic()
        self.nudges = 0  # in order: every earlier request was answered, or is lost
        # in order: whatever was sent before this frame and is unanswered was lost
        for seq in list(self.inflight):
            if seq == sent.seq:
                break
            self._lost(self.inflight.pop(seq))
        del self.inflight[sent.seq]
        if sent.job is self.sentinel:
            self.sentinel = None
            return
        if sent.job is self.probe:
            self.probe = None
            if frame.type != Msg.ERROR:
                self._resume(parse_input_state(frame.payload))
            elif parse_error(frame.payload)[1] in FRAME_ERRORS:  # it arrived damaged
                self._recover("the INPUT_STATE request arrived damaged")
            else:  # the device cannot say (no model): send everything again
                self._resume(None)
            return
        if frame.type == Msg.ERROR:
            self._on_error(sent, frame)
            return
        sent.job.tries = 0
        self.c.on_delivered()
        if sent.job.is_final(sent.index):
            sent.job.reply = frame

    def _on_error(self, sent: Sent, frame: Frame) -> None:
        _, code, _, detail, reason = parse_error(frame.payload)
        if code in FRAME_ERRORS:  # the frame arrived damaged
            self._lost(sent)
        elif code == Err.INCOMPLETE:  # a chunk before the invoke went missing
            self._recover(f"the device lacks input from byte {detail}")
        else:
            job = sent.job
            job.error = DeviceErrorReply(
                code, self.c.err_name(code), detail, reason, self.c.msg_name(job.frames[-1][0])
            )
            for seq in [s for s, v in self.inflight.items() if v.job is job]:
                del self.inflight[seq]
            self.unsent = deque(u for u in self.unsent if u[0] is not job)

    def _lost(self, sent: Sent) -> None:
        job = sent.job
        if job is self.sentinel:
            self.sentinel = None
            return
        if job is self.probe:
            self.probe = None
            self._recover("the INPUT_STATE request was lost")
            return
        self._count_resend(job)
        self.c.on_lost()
        self.unsent.appendleft((job, sent.index))

    def _count_resend(self, job: Job) -> None:
        job.resends += 1
        self.counters.resends += 1
        budget = RESENDS_PER_FRAME * len(job.frames)
        if job.resends > budget:
            raise LinkError(
                f"the link lost too much: {job.resends} frames sent again for a request of "
                f"{len(job.frames)} (bound {budget}); check the cable, the port and the baud "
                f"rate; last bytes received: {self.c.transport.rx_tail[-32:].hex(' ') or 'none'}"
            )

    # ---- recovery -----------------------------------------------------------------------

    def _recover(self, why: str) -> None:
        """Asks the device which blocks it holds; what is in flight is written off."""
        first = next((j for j in self.pending if not j.done), None)
        if first is None:
            return
        first.tries += 1
        if first.tries > self.c.retries:
            raise self.c.timeout_error(first, why)
        log.debug("recovering (%s): asking the device what it holds", why)
        self.inflight.clear()  # their replies, if any come, are stale and ignored
        self.unsent.clear()
        self.sentinel = None
        self.nudges = 0
        self.counters.probes += 1
        self.probe = self.c.new_job([(int(Msg.INPUT_STATE), b"")])
        self._put(self.probe, 0, self.c.wire_size(b""))
        self.last_progress = time.monotonic()

    def _resume(self, state: InputState | None) -> None:
        """Queues what the device lacks (``state``: what it holds; None: it did not say)."""
        if state is not None:
            self.c.check_boot(state.boot_id)
        first = True
        for job in self.pending:
            if job.done:
                continue
            todo = job.missing(state if first else None)
            if first:  # the only job the device may hold part of: its resends are bounded
                for _ in todo:
                    self._count_resend(job)
            first = False
            self.unsent.extend((job, i) for i in todo)
