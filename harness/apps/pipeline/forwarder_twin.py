"""The twin's data-forwarder mode: a CSV's labelled windows streamed through hil_forwarder.c.

``python -m harness.sim.twin --board nano33 --forward windows.csv`` hands over to
:func:`serve_forward`: the C module (compiled into the twin's core library) formats every
row of the CSV as a window, and the bytes leave through a pseudo-terminal paced at the
board's link rate (and at ``--forward-rate`` samples per second when given), as a board
in forwarder mode sends them. It starts on the first byte the host sends, as a sketch that
waits for its host does, and ends its stream with ``@D``.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import select
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from ...boards.catalog import resolve_board
from ...errors import BuildError, ConfigError, HilError
from ...sim.build import build_core_library
from ...sim.corelib import WRITE, CoreLibrary
from ...sim.launcher import TwinProcess, launch
from .config import section
from .dataset import read_csv
from .stamp import stamped_shape

u32 = ctypes.c_uint32
STATUS = {
    0: "ok",
    1: "bad configuration (axes, window, decimals or names)",
    2: "call out of order",
    3: "a label outside A-Z a-z 0-9 _ . - or longer than 32 characters",
    4: "a NaN, infinite or too large value",
    5: "a sample with the wrong number of values, or a short window",
}
QUEUE_LOW = 8192  # bytes queued on the wire before the next window is formatted


class FwdConfigC(ctypes.Structure):
    _fields_ = [
        ("axes", u32),
        ("window", u32),
        ("rate_hz", u32),
        ("decimals", u32),
        ("names", ctypes.c_char_p),
    ]


class FwdLinkC(ctypes.Structure):
    _fields_ = [("ctx", ctypes.c_void_p), ("write", WRITE)]


class FwdStatsC(ctypes.Structure):
    _fields_ = [("windows", u32), ("samples", u32), ("refused", u32)]


class ForwarderCore:
    """One hil_forwarder_t driven from Python; ``write`` receives every byte it emits."""

    def __init__(
        self,
        lib: CoreLibrary,
        write: Callable[[bytes], None],
        *,
        axes: int,
        window: int,
        rate_hz: int = 0,
        decimals: int = 4,
        names: str | None = None,
    ):
        cdll = lib.lib
        if not hasattr(cdll, "hil_fwd_init"):
            raise BuildError("the compiled firmware core has no hil_fwd_* functions: "
                             "hil_forwarder.c is missing from firmware/lib/hil_core/src")
        for name, struct in (("hil_fwd_sizeof_config", FwdConfigC),
                             ("hil_fwd_sizeof_stats", FwdStatsC)):
            getattr(cdll, name).restype = u32
            if getattr(cdll, name)() != ctypes.sizeof(struct):
                raise BuildError(f"{struct.__name__} no longer matches hil_forwarder.h")
        cdll.hil_fwd_sizeof.restype = u32
        for name in ("hil_fwd_init", "hil_fwd_begin", "hil_fwd_sample", "hil_fwd_end"):
            getattr(cdll, name).restype = ctypes.c_int
        cdll.hil_fwd_stats.restype = ctypes.POINTER(FwdStatsC)
        self.cdll = cdll
        self.axes = axes
        self._mem = ctypes.create_string_buffer(int(cdll.hil_fwd_sizeof()))
        self._names = names.encode() if names else None
        self._cfg = FwdConfigC(axes, window, rate_hz, decimals, self._names)
        self._write = WRITE(lambda _ctx, data, n: write(ctypes.string_at(data, n)))
        self._link = FwdLinkC(None, self._write)
        self._check(cdll.hil_fwd_init(self._mem, ctypes.byref(self._cfg), ctypes.byref(self._link)),
                    "init")

    @staticmethod
    def _check(status: int, call: str) -> None:
        if status:
            raise ConfigError(f"the forwarder refused {call}: {STATUS.get(status, status)}")

    def announce(self) -> None:
        self.cdll.hil_fwd_announce(self._mem)

    def begin(self, label: str) -> None:
        self._check(self.cdll.hil_fwd_begin(self._mem, label.encode()), f"label {label!r}")

    def sample(self, values: np.ndarray) -> None:
        arr = np.ascontiguousarray(values, dtype=np.float32)
        ptr = arr.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
        self._check(self.cdll.hil_fwd_sample(self._mem, ptr, len(arr)), "a sample")

    def end(self) -> None:
        self._check(self.cdll.hil_fwd_end(self._mem), "the end of a window")

    def abort(self) -> None:
        self.cdll.hil_fwd_abort(self._mem)

    def done(self) -> None:
        self.cdll.hil_fwd_done(self._mem)

    @property
    def stats(self) -> dict[str, int]:
        raw = self.cdll.hil_fwd_stats(self._mem).contents
        return {f[0]: int(getattr(raw, f[0])) for f in FwdStatsC._fields_}


def windows_of(csv_path: Path) -> tuple[np.ndarray, tuple[str, ...], int]:
    """The CSV's rows as (N, window, axes) windows, their labels, and the axes.

    The shape comes from the file's collect stamp (window, axes); without one, a row is a
    window of single values.
    """
    data = read_csv(csv_path, shape=stamped_shape(csv_path), flag="--forward")
    axes = int(data.shape[-1]) if len(data.shape) >= 2 else 1
    return data.x.reshape((len(data), -1, axes)), data.labels, axes


def serve_forward(args: argparse.Namespace) -> int:
    """Entry of ``tflm-hil sim --forward CSV``: prints its port as JSON, then streams."""
    rate_hz = args.forward_rate
    pending: list[bytes] = []
    # Whatever the C module would refuse (its configuration, a label) is refused here, before
    # the port is announced: mid-stream, the host would only see the stream stop.
    try:
        board, _ = resolve_board(args.board.removeprefix("sim:"))
        windows, labels, axes = windows_of(Path(args.forward))
        lib = CoreLibrary(build_core_library())
        config = {"axes": axes, "window": windows.shape[1], "rate_hz": rate_hz,
                  "decimals": int(section("collect")["decimals"])}
        fwd = ForwarderCore(lib, pending.append, **config)
        _check_labels(ForwarderCore(lib, lambda _bytes: None, **config), labels, args.forward)
    except HilError as exc:
        print(json.dumps({"error": str(exc), "category": exc.category}), flush=True)
        return 3
    from ...sim.twin import PacedWire, open_pty  # the twin's port and pacing: both modes alike

    master, _slave, port = open_pty()
    byte_rate = args.baud / 10 if args.baud else board.link.bytes_per_s
    print(json.dumps({"port": port, "pid": os.getpid(), "mode": "forward",
                      "board": board.id, "windows": len(windows)}), flush=True)
    wire = PacedWire(byte_rate)
    stream = _stream(fwd, windows, labels)
    started_at: float | None = None
    sample_period = 1.0 / rate_hz if rate_hz else 0.0
    samples = 0
    finished = False
    stdin_fd = sys.stdin.fileno() if args.exit_on_stdin_eof else None
    watch = [fd for fd in (master, stdin_fd) if fd is not None]
    while True:
        now = time.monotonic()
        if started_at is not None and not finished:
            # Keep the wire fed a little ahead; at a sample rate, no sample before its time.
            while not finished and wire.queued < QUEUE_LOW and (
                not sample_period or started_at + samples * sample_period <= now
            ):
                kind = next(stream, None)
                if kind is None:
                    finished = True
                samples += kind == "sample"
                for data in pending:
                    wire.push(data, now)
                pending.clear()
        wire.flush_to(master, now)
        due = wire.next_due()
        wait = 0.25 if due is None else max(0.001, due - now)
        if sample_period and not finished:
            wait = min(wait, sample_period)
        readable, _, _ = select.select(watch, [], [], wait)
        if master in readable:
            try:
                got = os.read(master, 4096)
            except OSError:
                got = b""
            if got and started_at is None:
                started_at = time.monotonic()
        if stdin_fd is not None and stdin_fd in readable and not os.read(stdin_fd, 4096):
            return 0


def _check_labels(scratch: ForwarderCore, labels: tuple[str, ...], source: str) -> None:
    """Every class label through the C module's own rule (on a forwarder writing nowhere)."""
    for label in sorted(set(labels)):
        try:
            scratch.begin(label)
        except ConfigError as exc:
            raise ConfigError(f"{source}: {exc}; rename that class") from exc
        scratch.abort()


def _stream(fwd: ForwarderCore, windows: np.ndarray, labels: tuple[str, ...]) -> Iterator[str]:
    """Drives the C module one call at a time, so the caller can pace samples."""
    fwd.announce()
    yield "header"
    for label, window in zip(labels, windows, strict=True):
        fwd.begin(label)
        for row in window:
            fwd.sample(row)
            yield "sample"
        fwd.end()
        yield "end"
    fwd.done()
    yield "done"


def start_forward_twin(board: str, csv_path: str | os.PathLike[str], *,
                       rate_hz: int = 0, log_path: Path | None = None) -> TwinProcess:
    """Starts a twin in forwarder mode (``tflm-hil sim --forward``) and waits for its port."""
    args = ["--board", board.removeprefix("sim:"), "--forward", str(csv_path)]
    if rate_hz:
        args += ["--forward-rate", str(rate_hz)]
    return launch(args, log_path)
