"""MLPerf Tiny's device side: the text-protocol module (firmware/lib/hil_mlperf) with the TFLM
host runtime as its backend, the peer our protocol is benchmarked against
(``tflm-hil sim --protocol mlperf``)."""

from __future__ import annotations

import ctypes
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace

from ... import __version__
from ...errors import BuildError
from ...protocol.mlperf_benchmarks import identify, model_id
from ...tflite.model import TfliteModel
from ..backend import TflmBackend
from ..corelib import Backend, Callbacks, CoreLibrary, InfoC
from ..personality import BootInfo, DeviceCore, Emit, VirtualClock

log = logging.getLogger("harness.sim.mlperf")
# hil_mlperf.h's HIL_MLPERF_CONVERT_* and HIL_MLPERF_RESULTS_*
CONVERT_CODES = {"none": 0, "shift128": 1, "quantize": 2}
RESULTS_CODES = {"outputs": 0, "mse": 1}

u8, u32 = ctypes.c_uint8, ctypes.c_uint32


class MlperfConfigC(ctypes.Structure):
    _fields_ = [
        ("vendor", ctypes.c_char_p),
        ("model_version", ctypes.c_char_p),
        ("db", ctypes.POINTER(u8)),
        ("db_cap", u32),
        ("min_decimals", u32),
        ("convert", u8),
        ("results", u8),
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


def _logging_errors(write: Callable[[bytes], None]) -> Callable[[bytes], None]:
    """``write``, logging every ``e-[...]`` line the device sends (the twin's log is its
    stderr): a host that ignores error replies, as the MLPerf runner does, leaves a trace."""
    pending = bytearray()

    def logged(data: bytes) -> None:
        pending.extend(data)
        *lines, rest = bytes(pending).split(b"\n")
        pending[:] = rest
        for line in lines:
            if line.startswith(b"e-["):
                log.warning("MLPerf DUT error reply: %s", line.decode("ascii", "replace").strip())
        write(data)

    return logged


@dataclass(frozen=True)
class MlperfSettings:
    """How the device module is configured for one model: the MLPerf benchmark's id, input
    conversion, result format and db buffer (harness/data/mlperf_benchmarks.toml), or, for a
    model of no benchmark, its hash as id, bytes copied as they are, every output printed."""

    model_version: str
    db_bytes: int
    convert: int = 0
    results: int = 0

    @classmethod
    def of(cls, model: TfliteModel, override: str | None = None) -> MlperfSettings:
        bench = identify(model, override)
        if bench is None:
            return cls(model_id(model, None), sum(t.nbytes for t in model.inputs))
        bench.check_model(model)
        return cls(
            model_id(model, bench),
            bench.db_bytes,
            CONVERT_CODES[bench.convert],
            RESULTS_CODES[bench.results],
        )


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
        convert: int = 0,
        results: int = 0,
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
            convert,
            results,
        )
        # the text protocol has no reset command: no reset callback
        self._callbacks = Callbacks(backend, _logging_errors(write), cycles)
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

    def __init__(self, lib: CoreLibrary, backend: TflmBackend, mlperf_model: str | None = None):
        self.lib = lib
        self.backend = backend
        # the benchmark it answers as (its conversion, results, db buffer): ConfigError here,
        # before the twin serves, for a model that does not fit it
        self.settings = MlperfSettings.of(backend.model, mlperf_model)

    def boot(
        self, info: BootInfo, emit: Emit, clock: VirtualClock, reset: Callable[[], None]
    ) -> DeviceCore:
        # its profile line says what its m-lap-us are: a host cannot tell otherwise
        info = replace(
            info, fw_version=f"tflm-hil {__version__} simulated twin (m-lap-us estimated)"
        )
        return MlperfCore(  # the text protocol has no reset command: ``reset`` is not used
            self.lib,
            InfoC.of(**asdict(info)),
            self.backend,
            emit,
            lambda: clock.cycles,
            **asdict(self.settings),
        )
