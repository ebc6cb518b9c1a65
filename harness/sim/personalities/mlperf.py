"""MLPerf Tiny's device side: the text-protocol module (firmware/lib/hil_mlperf) with the TFLM
host runtime as its backend, the peer our protocol is benchmarked against
(``tflm-hil sim --protocol mlperf``)."""

from __future__ import annotations

import ctypes
import os
from collections.abc import Callable
from dataclasses import asdict

from ...errors import BuildError
from ..backend import TflmBackend
from ..corelib import Backend, Callbacks, CoreLibrary, InfoC
from ..personality import BootInfo, DeviceCore, Emit, VirtualClock

u8, u32 = ctypes.c_uint8, ctypes.c_uint32


class MlperfConfigC(ctypes.Structure):
    _fields_ = [
        ("vendor", ctypes.c_char_p),
        ("model_version", ctypes.c_char_p),
        ("db", ctypes.POINTER(u8)),
        ("db_cap", u32),
        ("min_decimals", u32),
    ]


class MlperfStatsC(ctypes.Structure):
    _fields_ = [
        ("commands", u32),
        ("errors", u32),
        ("invokes", u32),
        ("overflows", u32),
        ("bytes_dropped", u32),
    ]


def _bind(lib: CoreLibrary) -> ctypes.CDLL:
    """The library with the MLPerf entry points typed and its struct layouts checked."""
    cdll = lib.lib
    if not hasattr(cdll, "hil_mlperf_init"):
        raise BuildError(
            "the compiled library has no hil_mlperf_* functions: build it with "
            'build_host_library("mlperf") (firmware/images.toml [host.mlperf])'
        )
    for name in (
        "hil_mlperf_init",
        "hil_mlperf_announce",
        "hil_mlperf_feed",
        "hil_mlperf_note_overflow",
    ):
        getattr(cdll, name).restype = None
    cdll.hil_mlperf_micros.restype = ctypes.c_uint64
    for name, struct in (
        ("hil_mlperf_sizeof_config", MlperfConfigC),
        ("hil_mlperf_sizeof_stats", MlperfStatsC),
    ):
        getattr(cdll, name).restype = u32
        native = getattr(cdll, name)()
        if native != ctypes.sizeof(struct):
            raise BuildError(
                f"{struct.__name__} is {ctypes.sizeof(struct)} bytes here but {native} in the "
                "compiled core: harness/sim/personalities/mlperf.py no longer matches hil_mlperf.h"
            )
    cdll.hil_mlperf_stats.restype = ctypes.POINTER(MlperfStatsC)
    cdll.hil_mlperf_sizeof.restype = u32
    cdll.hil_mlperf_cmd_size.restype = u32
    return cdll


class MlperfCore(DeviceCore):
    """One instance of the MLPerf text-protocol device module, driven from Python."""

    def __init__(
        self,
        lib: CoreLibrary,
        info: InfoC,
        backend: Backend,
        write: Callable[[bytes], None],
        cycles: Callable[[], int],
        *,
        db_bytes: int,
        vendor: str = "tflm-hil",
        model_version: str = "unknown",
        min_decimals: int = 0,
    ):
        self.cdll = _bind(lib)
        self._mem = ctypes.create_string_buffer(self.cdll.hil_mlperf_sizeof())
        # The db buffer is the glue's on a board (static RAM); here Python owns it.
        self._db = (u8 * max(db_bytes, 1))()
        self._vendor = vendor.encode()
        self._model = model_version.encode()
        self._info = info
        self._cfg = MlperfConfigC(
            self._vendor,
            self._model,
            ctypes.cast(self._db, ctypes.POINTER(u8)),
            db_bytes,
            min_decimals,
        )
        # the text protocol has no reset command: no reset callback
        self._callbacks = Callbacks(backend, write, cycles)
        self.cdll.hil_mlperf_init(
            self._mem,
            ctypes.byref(info),
            ctypes.byref(self._cfg),
            ctypes.byref(self._callbacks.platform),
            ctypes.byref(self._callbacks.backend),
        )

    def announce(self) -> None:
        self.cdll.hil_mlperf_announce(self._mem)

    def feed(self, data: bytes) -> None:
        self.cdll.hil_mlperf_feed(self._mem, data, len(data))

    def note_overflow(self, lost: int) -> None:
        self.cdll.hil_mlperf_note_overflow(self._mem, lost)

    def micros(self) -> int:
        return int(self.cdll.hil_mlperf_micros(self._mem))

    @property
    def stats(self) -> dict[str, int]:
        raw = self.cdll.hil_mlperf_stats(self._mem).contents
        return {f[0]: int(getattr(raw, f[0])) for f in MlperfStatsC._fields_}

    @property
    def cmd_size(self) -> int:
        return int(self.cdll.hil_mlperf_cmd_size())


class MlperfPersonality:
    """MLPerf Tiny's reference firmware, on the same backend as ours."""

    name = "mlperf"

    def __init__(self, lib: CoreLibrary, backend: TflmBackend):
        self.lib = lib
        self.backend = backend

    def boot(
        self, info: BootInfo, emit: Emit, clock: VirtualClock, reset: Callable[[], None]
    ) -> DeviceCore:
        model = self.backend.model
        return MlperfCore(  # the text protocol has no reset command: ``reset`` is not used
            self.lib,
            InfoC.of(**asdict(info)),
            self.backend,
            emit,
            lambda: clock.cycles,
            db_bytes=sum(t.nbytes for t in model.inputs),
            model_version=os.path.splitext(os.path.basename(model.source))[0],
        )
