"""The data forwarder's device side: labelled windows streamed through its firmware module
(firmware/lib/hil_forwarder), as a board in forwarder mode sends its sensor's samples.

The stream starts on the first byte the host sends, as a sketch that waits for its host does,
keeps the wire fed a little ahead (at ``rate_hz`` samples per second when given, else as fast
as the link goes) and ends with ``@D``. The windows are given as arrays (the CSV is read by
harness/apps/pipeline/forward.py).
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable, Iterator

import numpy as np

from ...errors import BuildError, ConfigError
from ..corelib import WRITE, CoreLibrary
from ..personality import BootInfo, DeviceCore, Emit, VirtualClock

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
            raise BuildError("the compiled library has no hil_fwd_* functions: build it with "
                             'build_host_library("forwarder") (firmware/images.toml)')
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


class StreamingDevice(DeviceCore):
    """A forwarder core streaming ``windows`` once the host has said something."""

    def __init__(self, make_core: Callable[[Emit], ForwarderCore], emit: Emit,
                 windows: np.ndarray, labels: tuple[str, ...], rate_hz: int):
        self._emit = emit
        self._emitted = 0
        self._steps = _stream(make_core(self._write), windows, labels)
        self._period = 1.0 / rate_hz if rate_hz else 0.0
        self.asked = False  # the host has sent its first byte
        self.started_at: float | None = None
        self.samples = 0
        self.finished = False

    def _write(self, data: bytes) -> None:
        self._emitted += len(data)
        self._emit(data)

    def announce(self) -> None:
        """Nothing before the host's first byte: the header is the stream's first step."""

    def feed(self, data: bytes) -> None:
        self.asked = self.asked or bool(data)  # what the host says is not read

    def tick(self, now: float, queued: int) -> float | None:
        if not self.asked or self.finished:
            return None
        if self.started_at is None:
            self.started_at = now
        self._emitted = 0
        # keep the wire fed a little ahead; at a sample rate, no sample before its time
        while not self.finished and queued + self._emitted < QUEUE_LOW and (
            not self._period or self.started_at + self.samples * self._period <= now
        ):
            kind = next(self._steps, None)
            self.finished = kind is None
            self.samples += kind == "sample"
        if self._period and not self.finished:
            return self.started_at + self.samples * self._period
        return None


class ForwarderPersonality:
    """The data-forwarder firmware, its sensor replaced by the given windows."""

    name = "forwarder"

    def __init__(self, lib: CoreLibrary, windows: np.ndarray, labels: tuple[str, ...], *,
                 rate_hz: int = 0, decimals: int = 4, names: str | None = None):
        self.lib = lib
        self.windows = windows
        self.labels = labels
        self.rate_hz = rate_hz
        self.decimals = decimals
        self.names = names

    def core(self, write: Emit) -> ForwarderCore:
        """A forwarder module writing to ``write`` (refuses a configuration it cannot send)."""
        return ForwarderCore(self.lib, write, axes=int(self.windows.shape[-1]),
                             window=int(self.windows.shape[1]), rate_hz=self.rate_hz,
                             decimals=self.decimals, names=self.names)

    def boot(self, info: BootInfo, emit: Emit, clock: VirtualClock,
             reset: Callable[[], None]) -> DeviceCore:
        return StreamingDevice(self.core, emit, self.windows, self.labels, self.rate_hz)
