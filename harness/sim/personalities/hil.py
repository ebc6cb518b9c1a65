"""Our firmware's device side: the protocol core (firmware/lib/hil_core) with the TFLM host
runtime as its backend, as the test firmware runs it on a board."""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from dataclasses import asdict

from ..backend import TflmBackend
from ..corelib import Backend, Callbacks, CoreLibrary, InfoC
from ..personality import BootInfo, DeviceCore, Emit, VirtualClock


class HilCore(DeviceCore):
    """One instance of the device core (hil_core_t), driven from Python."""

    def __init__(
        self,
        lib: CoreLibrary,
        info: InfoC,
        backend: Backend,
        write: Callable[[bytes], None],
        cycles: Callable[[], int],
        reset: Callable[[], None] | None,
    ):
        self.lib = lib
        self._mem = ctypes.create_string_buffer(lib.core_size)
        self._callbacks = Callbacks(backend, write, cycles, reset)
        self._info = info  # the core keeps pointers into it
        cb = self._callbacks
        lib.lib.hil_core_init(
            self._mem, ctypes.byref(info), ctypes.byref(cb.platform), ctypes.byref(cb.backend)
        )

    def announce(self) -> None:
        self.lib.lib.hil_core_announce(self._mem)

    def feed(self, data: bytes) -> None:
        self.lib.lib.hil_core_feed(self._mem, data, len(data))

    def note_overflow(self, lost: int) -> None:
        self.lib.lib.hil_core_note_overflow(self._mem, lost)


class HilPersonality:
    """The test firmware. The backend outlives boots (the model stays in flash)."""

    name = "hil"

    def __init__(self, lib: CoreLibrary, backend: TflmBackend):
        self.lib = lib
        self.backend = backend

    def boot(
        self, info: BootInfo, emit: Emit, clock: VirtualClock, reset: Callable[[], None]
    ) -> DeviceCore:
        return HilCore(
            self.lib, InfoC.of(**asdict(info)), self.backend, emit, lambda: clock.cycles, reset
        )
