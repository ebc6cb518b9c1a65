"""The data-forwarder stream (hil_forwarder.h), host side: parse lines into labelled windows.

The device prints a header, then per window ``@W seq label``, ``window`` sample lines of
``axes`` comma-separated values, and ``@E seq count crc32``. A window whose count or CRC
disagrees, that was aborted (``@A``), or that a new ``@W`` or header interrupted (lost bytes,
a reboot) is dropped and counted; lines outside a window (a sketch's debug prints) are
ignored. docs/maintenance.md describes the format byte by byte.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from ..errors import ConfigError, LinkError

FORMAT_VERSION = "1"


@dataclass(frozen=True)
class Header:
    axes: int
    window: int
    rate_hz: int
    decimals: int
    names: tuple[str, ...] = ()


@dataclass(frozen=True)
class Window:
    seq: int
    label: str
    values: np.ndarray  # (window, axes) float64


@dataclass
class StreamStats:
    windows: int = 0
    dropped: int = 0  # damaged, aborted or interrupted windows
    ignored_lines: int = 0
    reasons: dict[str, int] = field(default_factory=dict)

    def drop(self, reason: str) -> None:
        self.dropped += 1
        self.reasons[reason] = self.reasons.get(reason, 0) + 1


def parse_header(line: str) -> Header:
    parts = line.split()
    if len(parts) < 2 or parts[0] != "#hilfwd":
        raise ValueError("not a forwarder header")
    if parts[1] != FORMAT_VERSION:
        raise ConfigError(
            f"the device speaks data-forwarder format {parts[1]}, this tflm-hil reads "
            f"{FORMAT_VERSION}: update tflm-hil or the firmware"
        )
    kv = dict(p.split("=", 1) for p in parts[2:] if "=" in p)
    try:
        header = Header(
            axes=int(kv["axes"]),
            window=int(kv["window"]),
            rate_hz=int(kv.get("rate", "0")),
            decimals=int(kv.get("decimals", "0")),
            names=tuple(kv["names"].split(",")) if kv.get("names") else (),
        )
    except (KeyError, ValueError) as exc:
        raise ConfigError(f"malformed data-forwarder header {line!r}: {exc}") from exc
    if header.axes < 1 or header.window < 1:
        raise ConfigError(f"data-forwarder header {line!r} has no axes or an empty window")
    return header


class StreamParser:
    """Feeds lines (bytes, without the newline) and yields the complete, verified windows."""

    def __init__(self) -> None:
        self.header: Header | None = None
        self.stats = StreamStats()
        self.done = False
        self._open: tuple[int, str] | None = None
        self._crc = 0
        self._rows: list[list[float]] = []
        self._bad = ""

    def _drop_open(self, reason: str) -> None:
        if self._open is not None:
            self.stats.drop(reason)
        self._open = None

    def feed(self, raw: bytes) -> Window | None:
        line = raw.decode("ascii", errors="replace").rstrip("\r")
        if line.startswith("#hilfwd"):
            self._drop_open("interrupted by a header (a reboot?)")
            header = parse_header(line)
            if self.header is not None and header != self.header:
                raise ConfigError(
                    f"the device changed its stream format mid-collection ({self.header} -> "
                    f"{header}): collect one format per file"
                )
            self.header = header
            return None
        if line.startswith("@"):
            return self._control(line)
        if self._open is None:
            self.stats.ignored_lines += 1
            return None
        self._crc = zlib.crc32(raw + b"\n", self._crc)
        try:
            self._rows.append([float(v) for v in line.split(",")])
        except ValueError:
            self._bad = "a sample line that is not numbers"
        return None

    def _control(self, line: str) -> Window | None:
        parts = line.split()
        tag = parts[0]
        try:
            if tag == "@W" and len(parts) == 3:
                self._drop_open("interrupted by the next window (lost bytes)")
                self._open = (int(parts[1]), parts[2])
                self._crc, self._rows, self._bad = 0, [], ""
                return None
            if tag == "@E" and len(parts) == 4:
                return self._close(int(parts[1]), int(parts[2]), int(parts[3], 16))
            if tag == "@A" and len(parts) == 2:
                self._drop_open("aborted by the device")
                return None
            if tag == "@D":
                self._drop_open("unfinished at the end of the stream")
                self.done = True
                return None
        except ValueError:
            pass
        self._drop_open(f"a malformed control line {line[:40]!r}")
        return None

    def _close(self, seq: int, count: int, crc: int) -> Window | None:
        if self._open is None:
            self.stats.ignored_lines += 1
            return None
        open_seq, label = self._open
        self._open = None
        reason = self._bad
        if not reason and (seq != open_seq or count != len(self._rows)):
            reason = "a sample count that does not match (lost lines)"
        elif not reason and crc != self._crc:
            reason = "a CRC mismatch (damaged bytes)"
        widths = {len(r) for r in self._rows}
        if not reason and len(widths) != 1:
            reason = "sample lines of different widths"
        h = self.header
        if not reason and h is not None and (widths != {h.axes} or count != h.window):
            reason = "a window that does not match the header's axes and window"
        if reason:
            self.stats.drop(reason)
            return None
        self.stats.windows += 1
        return Window(seq, label, np.asarray(self._rows, dtype=np.float64))


class ByteSource(Protocol):
    def read(self, size: int = 1) -> bytes: ...
    def write(self, data: bytes) -> int | None: ...


def read_windows(
    link: ByteSource,
    *,
    max_windows: int | None,
    idle_timeout: float,
    on_window: Callable[[int], None] | None = None,
    label: str | None = None,
) -> tuple[StreamParser, list[Window]]:
    """Reads until ``@D``, ``max_windows`` windows, or ``idle_timeout`` without a new window.

    It first writes a newline: the twin (and a glue that waits for its host) starts then.
    With ``label`` it first tells the board what it is recording (``label NAME``, as the
    forwarder firmware reads it) and keeps only windows with that label: the ones already on
    their way under the previous label are dropped and counted.
    """
    parser = StreamParser()
    windows: list[Window] = []
    if label is not None:
        link.write(f"label {label}\n".encode())
    link.write(b"\n")
    buf = b""
    last = time.monotonic()
    while not parser.done and (max_windows is None or len(windows) < max_windows):
        chunk = link.read(4096)
        if not chunk:
            if time.monotonic() - last > idle_timeout:
                break
            continue
        buf += chunk
        *lines, buf = buf.split(b"\n")
        for raw in lines:
            w = parser.feed(raw)
            if w is not None and label is not None and w.label != label:
                parser.stats.drop("another label")
            elif w is not None:
                windows.append(w)
                last = time.monotonic()
                if on_window:
                    on_window(len(windows))
                if max_windows is not None and len(windows) >= max_windows:
                    break
    link.write(b"stop\n")  # the forwarder firmware stops streaming; the twin ignores it
    return parser, windows


def windows_dims(parser: StreamParser, windows: list[Window], source: str) -> tuple[int, int]:
    """(window, axes) of the stream; every window must share them."""
    if not windows:
        raise LinkError(
            f"no complete data-forwarder window arrived from {source} "
            f"({parser.stats.dropped} dropped, {parser.stats.ignored_lines} other lines): is "
            "the board running the forwarder sketch, and is this its port?"
        )
    dims = {w.values.shape for w in windows}
    if len(dims) != 1:
        raise ConfigError(f"{source} sent windows of different shapes {sorted(dims)}")
    (window, axes) = next(iter(dims))
    return int(window), int(axes)
