"""The host end of MLPerf Tiny's text protocol, driven as the MLPerf Tiny runner drives a DUT.

Implemented from the published description (the EEMBC-derived ``api/`` of mlcommons/tiny and
its runner): every command is text ending in ``%``; the device answers with lines ending in
``\\r\\n``, the last being ``m-ready``; the host waits for it before the next command (one
command in flight). An input vector is ``db load N`` then the bytes as hex, ``line_bytes``
per ``db`` command (31 in the runner, 26 when a power monitor is attached), then
``infer N W``, whose reply carries ``m-lap-us-`` timestamps and ``m-results-[...]``.

Used by the link benchmark as the peer our protocol is measured against, and by the tests of
the MLPerf module in the firmware core.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import serial

from ..errors import DeviceTimeout, HilError, LinkError
from .client import Link

READY = "m-ready"
TERMINATOR = "%"
DEFAULT_BAUD = 115200
LINE_BYTES = 31  # bytes per `db` line, as the runner sends them without a power monitor
_LAP = re.compile(r"^m-lap-us-([0-9]+)$")
_RESULTS = re.compile(r"^m-results-\[([^]]*)\]$")


class MlperfError(HilError):
    """The device answered a command with an ``e-[...]`` line."""

    category = "device"

    def __init__(self, command: str, reasons: list[str], lines: list[str]):
        super().__init__(f"device error to {command!r}: {'; '.join(reasons)}")
        self.command = command
        self.reasons = reasons
        self.lines = lines


@dataclass(frozen=True)
class InferResult:
    results: tuple[float, ...]
    lap_us: tuple[int, int]
    iterations: int
    warmups: int
    lines: tuple[str, ...] = ()

    @property
    def elapsed_us(self) -> int:
        return self.lap_us[1] - self.lap_us[0]

    @property
    def latency_us(self) -> float:
        return self.elapsed_us / self.iterations


@dataclass
class PeerCounters:
    commands: int = 0
    bytes_sent: int = 0
    bytes_received: int = 0
    errors: int = 0


class _Tensor(Protocol):
    """What requantize needs of an output tensor (TensorInfo and TensorDesc both fit)."""

    @property
    def dtype(self) -> np.dtype: ...
    @property
    def nbytes(self) -> int: ...
    @property
    def scale(self) -> float: ...
    @property
    def zero_point(self) -> int: ...


class MlperfPeer:
    """One DUT spoken to in MLPerf Tiny's text protocol over ``link`` (a pyserial port).

    ``byte_rate`` is the link's capacity in bytes per second; timeouts add the wire time of
    the command and of the reply to ``reply_timeout`` (and ``invoke_timeout`` for infer).
    """

    def __init__(
        self,
        link: Link,
        *,
        byte_rate: float,
        line_bytes: int = LINE_BYTES,
        reply_timeout: float = 1.0,
        invoke_timeout: float = 30.0,
        transcript: str | os.PathLike[str] | None = None,
    ):
        if not 1 <= line_bytes <= 38:  # "db " + 2 hex digits per byte within 80 characters
            raise ValueError(
                f"line_bytes must be 1..38 to fit the 80-character command buffer, got {line_bytes}"
            )
        self.link = link
        self.byte_rate = byte_rate
        self.line_bytes = line_bytes
        self.reply_timeout = reply_timeout
        self.invoke_timeout = invoke_timeout
        self.counters = PeerCounters()
        self._buf = bytearray()
        self._tail = bytearray()
        self._log = open(transcript, "a") if transcript else None  # noqa: SIM115

    # ---- commands -----------------------------------------------------------------------

    def wait_ready(self, timeout: float = 5.0) -> list[str]:
        """Reads the boot banner (or anything pending) up to its ``m-ready``."""
        return self._read_reply("<boot>", timeout, "the boot banner's wait")

    def sync(self, quiet: float = 0.1, limit: float = 5.0) -> None:
        """Puts host and device in step: a lone ``%`` ends any half-received command (the
        device answers it with m-ready only); replies still pending from before (a boot
        banner, an abandoned command) are read and dropped until the port is ``quiet``. A
        device that is still talking after ``limit`` seconds is a LinkError, not a hang."""
        self._buf.clear()
        self.command("")
        deadline = time.monotonic() + limit
        while True:
            self.link.timeout = quiet
            data = self.link.read(max(1, self.link.in_waiting))
            if not data:
                break
            self.counters.bytes_received += len(data)
            if time.monotonic() > deadline:
                raise LinkError(
                    f"the device was still sending after {limit:.1f}s of waiting for a quiet "
                    f"port ({quiet:.2f}s without a byte): is it streaming, or the wrong "
                    f"firmware? last bytes: {bytes(data[-32:])!r}"
                )
        self._buf.clear()

    def command(self, text: str, *, heavy: bool = False, reply_bytes: int = 64) -> list[str]:
        """Sends ``text%`` and returns the reply's lines up to ``m-ready`` (excluded).

        Raises MlperfError if the reply holds an ``e-[...]`` line, DeviceTimeout if no
        ``m-ready`` arrives in time.
        """
        wire = (text + TERMINATOR).encode("ascii")
        wire_s = (len(wire) + reply_bytes) / self.byte_rate
        allowance = self.reply_timeout + wire_s + (self.invoke_timeout if heavy else 0.0)
        parts = (
            f"reply {self.reply_timeout:.2f}s + wire time {wire_s:.2f}s at {self.byte_rate:.0f} B/s"
            + (f" + invoke timeout {self.invoke_timeout:.2f}s" if heavy else "")
        )
        self._write(wire)
        self.counters.commands += 1
        lines = self._read_reply(text, allowance, parts)
        errors = [ln[3:-1] if ln.endswith("]") else ln[2:] for ln in lines if ln.startswith("e-")]
        if errors:
            self.counters.errors += 1
            raise MlperfError(text, errors, lines)
        return lines

    def name(self) -> str:
        return _line(self.command("name"), r"^m-name-dut-\[([^]]*)\]$", "name").group(1)

    def profile(self) -> dict[str, str]:
        line = re.compile(r"^m-(profile|model)-\[([^]]*)\]$")
        found = {m.group(1): m.group(2) for ln in self.command("profile") if (m := line.match(ln))}
        if "model" not in found:
            raise LinkError("no m-model-[...] line in the reply to 'profile'")
        return found

    def timestamp(self) -> int:
        return int(_line(self.command("timestamp"), _LAP.pattern, "timestamp").group(1))

    def load(self, data: bytes) -> None:
        """``db load N`` then the bytes as hex lines, each waiting for m-ready, as the runner."""
        lines = self.command(f"db load {len(data)}")
        if f"m-[Expecting {len(data)} bytes]" not in lines:
            raise LinkError(f"'db load {len(data)}' was not acknowledged: {lines}")
        done = False
        for i in range(0, len(data), self.line_bytes):
            done = "m-load-done" in self.command("db " + data[i : i + self.line_bytes].hex())
        if not done:
            raise LinkError(f"the device did not report m-load-done after {len(data)} bytes")

    def infer(self, iterations: int = 1, warmups: int = 0) -> InferResult:
        """``infer N W`` (W always given: the device's default is 10 warmups)."""
        lines = self.command(f"infer {iterations} {warmups}", heavy=True, reply_bytes=256)
        laps = [int(m.group(1)) for ln in lines if (m := _LAP.match(ln))]
        if len(laps) != 2:
            raise LinkError(f"'infer' reply has {len(laps)} m-lap-us- lines, expected 2: {lines}")
        return InferResult(
            _parse_results(lines, "infer"), (laps[0], laps[1]), iterations, warmups, tuple(lines)
        )

    def results(self) -> tuple[float, ...]:
        return _parse_results(self.command("results", reply_bytes=256), "results")

    def infer_vector(self, data: bytes) -> InferResult:
        """One vector as the runner's accuracy mode sends it: load, then ``infer 1 0``."""
        self.load(data)
        return self.infer(1, 0)

    def close(self) -> None:
        if self._log:
            self._log.close()
            self._log = None

    # ---- bytes --------------------------------------------------------------------------

    def _write(self, data: bytes) -> None:
        try:
            self.link.write(data)
        except (serial.SerialException, OSError) as exc:
            raise LinkError(f"writing to the device failed: {exc}") from exc
        self.counters.bytes_sent += len(data)
        if self._log:
            self._log.write(f"> {data.decode('ascii', 'replace')}\n")

    def _read_reply(self, command: str, allowance: float, parts: str) -> list[str]:
        deadline = time.monotonic() + allowance
        lines, ready = read_reply(self.link, self._buf, deadline, self._received, self._logged)
        if not ready:
            raise DeviceTimeout(  # the deadline it applied, and what it was made of
                f"no {READY} in reply to {command!r} within {allowance:.2f}s ({parts}); "
                f"lines so far: {lines[-8:]}; last bytes received: {bytes(self._tail[-64:])!r}"
            )
        return lines

    def _received(self, data: bytes) -> None:
        self.counters.bytes_received += len(data)
        self._tail += data
        del self._tail[:-256]

    def _logged(self, line: str) -> None:
        if self._log:
            self._log.write(f"< {line}\n")


def read_reply(
    link: Link,
    buf: bytearray,
    deadline: float,
    on_bytes: Callable[[bytes], None],
    on_line: Callable[[str], None],
) -> tuple[list[str], bool]:
    """The lines arriving on ``link`` up to ``m-ready`` (excluded), and whether it came before
    ``deadline``. ``buf`` keeps what was read past the last complete line, between replies."""
    lines: list[str] = []
    while True:
        while (end := buf.find(b"\n")) >= 0:
            line = bytes(buf[:end]).decode("ascii", "replace").strip("\r\0")
            del buf[: end + 1]
            on_line(line)
            if line == READY:
                return lines, True
            if line:
                lines.append(line)
        left = deadline - time.monotonic()
        if left <= 0:
            return lines, False
        try:
            link.timeout = min(left, 0.05)
            data = link.read(max(1, link.in_waiting))
        except (serial.SerialException, OSError) as exc:
            raise LinkError(f"reading from the device failed (port gone?): {exc}") from exc
        if data:
            on_bytes(data)
            buf += data


def _line(lines: list[str], pattern: str, command: str) -> re.Match[str]:
    """The first line of a reply that matches ``pattern``; a reply without one is malformed."""
    for ln in lines:
        if m := re.match(pattern, ln):
            return m
    raise LinkError(f"no line matching {pattern} in the reply to {command!r}: {lines[-8:]}")


def _parse_results(lines: list[str], command: str) -> tuple[float, ...]:
    for ln in lines:
        m = _RESULTS.match(ln)
        if m:
            text = m.group(1).strip()
            try:
                return tuple(float(v) for v in text.split(",")) if text else ()
            except ValueError:
                raise LinkError(f"malformed m-results line: {ln!r}") from None
    raise LinkError(f"no m-results-[...] line in the reply to {command!r}: {lines}")


def requantize(values: Sequence[float], outputs: Sequence[_Tensor]) -> bytes:
    """The output tensors' raw bytes from the dequantized values of an m-results line.

    The device prints (q - zero_point) * scale with enough decimals that rounding stays
    within a quarter step, so q is recovered exactly; a value further than 0.3 step from
    any q means the line does not come from these tensors, and raises ValueError.
    """
    out = bytearray()
    pos = 0
    for t in outputs:
        count = t.nbytes // t.dtype.itemsize
        vals = np.asarray(values[pos : pos + count], dtype=np.float64)
        pos += count
        if len(vals) != count:
            raise ValueError(f"m-results has {len(values)} values, the outputs hold more")
        if t.dtype.kind == "f":
            raise ValueError(
                "float outputs are printed to 6 decimals: compare them with a "
                "tolerance, they cannot be recovered bit-exactly"
            )
        steps = vals / t.scale + t.zero_point if t.scale > 0 else vals
        q = np.rint(steps)
        worst = float(np.max(np.abs(steps - q))) if count else 0.0
        if worst > 0.3:
            raise ValueError(
                f"m-results value {worst:.2f} steps from the quantization grid "
                f"(scale {t.scale}, zero point {t.zero_point})"
            )
        info = np.iinfo(t.dtype)
        if q.min(initial=0) < info.min or q.max(initial=0) > info.max:
            raise ValueError(f"m-results value outside the range of {t.dtype}")
        out += q.astype(t.dtype).tobytes()
    if pos != len(values):
        raise ValueError(f"m-results has {len(values)} values, the outputs hold {pos}")
    return bytes(out)
