"""ctypes binding of the firmware core (hil_core.h) for the simulated twin.

The structs mirror hil_core.h; ``CoreLibrary`` checks their sizes against the compiled
library so that a header change cannot silently corrupt memory.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from ..errors import BuildError
from ..protocol.constants import MAX_DIMS

c_void_p = ctypes.c_void_p
u8, u32, i32 = ctypes.c_uint8, ctypes.c_uint32, ctypes.c_int32


class TensorC(ctypes.Structure):
    _fields_ = [
        ("dtype", u8),
        ("ndims", u8),
        ("dims", i32 * MAX_DIMS),
        ("scale", ctypes.c_float),
        ("zero_point", i32),
        ("bytes", u32),
        ("data", ctypes.POINTER(u8)),
    ]


# Callbacks that return strings return addresses of buffers the Python side keeps alive:
# ctypes cannot return a c_char_p from a callback.
INIT_ERROR = ctypes.CFUNCTYPE(c_void_p, c_void_p)
TENSOR_COUNT = ctypes.CFUNCTYPE(u32, c_void_p, ctypes.c_int)
TENSOR = ctypes.CFUNCTYPE(ctypes.c_int, c_void_p, ctypes.c_int, u32, ctypes.POINTER(TensorC))
INVOKE = ctypes.CFUNCTYPE(ctypes.c_int, c_void_p)
LAST_ERROR = ctypes.CFUNCTYPE(c_void_p, c_void_p)
ARENA_USED = ctypes.CFUNCTYPE(u32, c_void_p)
OP_COUNT = ctypes.CFUNCTYPE(u32, c_void_p)
OP_PROFILE = ctypes.CFUNCTYPE(
    ctypes.c_int, c_void_p, u32, ctypes.POINTER(c_void_p), ctypes.POINTER(u32)
)
WRITE = ctypes.CFUNCTYPE(None, c_void_p, ctypes.POINTER(u8), u32)
CYCLES = ctypes.CFUNCTYPE(u32, c_void_p)
STACK_USED = ctypes.CFUNCTYPE(u32, c_void_p)
RESET = ctypes.CFUNCTYPE(None, c_void_p)


class BackendC(ctypes.Structure):
    _fields_ = [
        ("ctx", c_void_p),
        ("init_error", INIT_ERROR),
        ("tensor_count", TENSOR_COUNT),
        ("tensor", TENSOR),
        ("invoke", INVOKE),
        ("last_error", LAST_ERROR),
        ("arena_used", ARENA_USED),
        ("op_count", OP_COUNT),
        ("op_profile", OP_PROFILE),
    ]


class PlatformC(ctypes.Structure):
    _fields_ = [
        ("ctx", c_void_p),
        ("write", WRITE),
        ("cycles", CYCLES),
        ("stack_used", STACK_USED),
        ("reset", RESET),
    ]


class InfoC(ctypes.Structure):
    _fields_ = [
        ("fw_version", ctypes.c_char_p),
        ("board", ctypes.c_char_p),
        ("cpu", ctypes.c_char_p),
        ("tflm_version", ctypes.c_char_p),
        ("core_version", ctypes.c_char_p),
        ("model_hash", u8 * 32),
        ("image_hash", u8 * 32),
        ("arena_size", u32),
        ("clock_hz", u32),
        ("rx_window", u32),
        ("staging", u32),
        ("boot_id", u32),
        ("flags", u32),
    ]

    @classmethod
    def of(cls, *, model_hash: str, image_hash: str, **fields: str | int) -> InfoC:
        """From the fields of harness/sim/personality.py's BootInfo (strings, hex hashes)."""
        info = cls(**{k: v.encode() if isinstance(v, str) else v for k, v in fields.items()})
        info.model_hash[:] = bytes.fromhex(model_hash)
        info.image_hash[:] = bytes.fromhex(image_hash)
        return info


class Backend(Protocol):
    """What the twin's backend offers the core (see hil_backend_t)."""

    def init_error(self) -> str | None: ...
    def tensor_count(self, output: bool) -> int: ...
    def tensor(self, output: bool, index: int) -> TensorC: ...
    def invoke(self) -> int: ...
    def last_error(self) -> str: ...
    def arena_used(self) -> int: ...
    def op_profile(self) -> list[tuple[str, int]]: ...  # of the last invoke: (name, cycles)


class CoreLibrary:
    def __init__(self, path: Path):
        self.lib = ctypes.CDLL(str(path))
        for name in (
            "hil_core_init",
            "hil_core_announce",
            "hil_core_feed",
            "hil_core_note_overflow",
        ):
            getattr(self.lib, name).restype = None
        self.lib.hil_crc32.restype = u32
        self.lib.hil_crc32.argtypes = [u32, ctypes.c_char_p, u32]
        for name, struct in (
            ("hil_sizeof_info", InfoC),
            ("hil_sizeof_platform", PlatformC),
            ("hil_sizeof_backend", BackendC),
            ("hil_sizeof_tensor", TensorC),
        ):
            getattr(self.lib, name).restype = u32
            native = getattr(self.lib, name)()
            if native != ctypes.sizeof(struct):
                raise BuildError(
                    f"{struct.__name__} is {ctypes.sizeof(struct)} bytes here but {native} in "
                    f"{path.name}: harness/sim/corelib.py no longer matches hil_core.h"
                )
        self.lib.hil_sizeof_core.restype = u32
        self.lib.hil_max_frame.restype = u32
        self.core_size = self.lib.hil_sizeof_core()
        self.max_frame = self.lib.hil_max_frame()

    def crc32(self, data: bytes, crc: int = 0) -> int:
        return int(self.lib.hil_crc32(crc, data, len(data)))


class Callbacks:
    """The backend and platform structs a C module is given, and the Python callables behind
    them: kept alive here for as long as the module may call them."""

    def __init__(
        self,
        be: Backend,
        write: Callable[[bytes], None],
        cycles: Callable[[], int],
        reset: Callable[[], None] | None = None,
    ):
        self._strings: dict[str, ctypes.Array[ctypes.c_char]] = {}

        def tensor(_ctx, output, index, out):
            out[0] = be.tensor(bool(output), int(index))
            return 0

        def do_write(_ctx, data, n):
            write(ctypes.string_at(data, n))

        def op_profile(_ctx, index, name, cycles):
            ops = be.op_profile()
            if index >= len(ops):
                return -1
            name[0] = self._cstr(ops[index][0])
            cycles[0] = ops[index][1] & 0xFFFFFFFF
            return 0

        self.backend = BackendC(
            None,
            INIT_ERROR(lambda _ctx: self._cstr(be.init_error())),
            TENSOR_COUNT(lambda _ctx, output: be.tensor_count(bool(output))),
            TENSOR(tensor),
            INVOKE(lambda _ctx: be.invoke()),
            LAST_ERROR(lambda _ctx: self._cstr(be.last_error())),
            ARENA_USED(lambda _ctx: be.arena_used()),
            OP_COUNT(lambda _ctx: len(be.op_profile())),
            OP_PROFILE(op_profile),
        )
        self.platform = PlatformC(
            None,
            WRITE(do_write),
            CYCLES(lambda _ctx: cycles() & 0xFFFFFFFF),
            STACK_USED(),  # the host cannot measure a board stack: reported as 0
            RESET(lambda _ctx: reset()) if reset else RESET(),  # NULL: RESET is refused
        )

    def _cstr(self, text: str | None) -> int | None:
        if text is None:
            return None
        buf = self._strings.get(text)
        if buf is None:
            buf = self._strings[text] = ctypes.create_string_buffer(text.encode("utf-8", "replace"))
        return ctypes.addressof(buf)
