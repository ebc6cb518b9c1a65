"""Payload layouts of the device replies, decoded into dataclasses."""

from __future__ import annotations

import functools
import re
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np

from ..errors import LinkError
from ..provenance import Provenance
from .constants import Flag, Tag

# TfLiteType values (tensorflow/lite/core/c/c_api_types.h), which the device reports ->
# numpy dtypes. (The .tflite schema's TensorType numbers differ: see harness/tflite/model.py.)
TFLITE_DTYPES: dict[int, np.dtype] = {
    1: np.dtype(np.float32),
    2: np.dtype(np.int32),
    3: np.dtype(np.uint8),
    4: np.dtype(np.int64),
    6: np.dtype(np.bool_),
    7: np.dtype(np.int16),
    9: np.dtype(np.int8),
    10: np.dtype(np.float16),
    11: np.dtype(np.float64),
    16: np.dtype(np.uint32),
    17: np.dtype(np.uint16),
}
TFLITE_TYPE_CODES: dict[np.dtype, int] = {dt: code for code, dt in TFLITE_DTYPES.items()}

T = TypeVar("T")


def _reply(name: str) -> Callable[[Callable[[bytes], T]], Callable[[bytes], T]]:
    """A reply whose fields do not fit its payload is a LinkError naming the reply, never a
    struct or enum error (found by hypothesis, tests_unit/test_codec_fuzz.py)."""

    def wrap(parse: Callable[[bytes], T]) -> Callable[[bytes], T]:
        @functools.wraps(parse)
        def checked(payload: bytes) -> T:
            try:
                return parse(payload)
            except (struct.error, ValueError) as exc:
                raise LinkError(f"malformed {name} payload of {len(payload)} bytes: {exc}") from exc

        return checked

    return wrap


@dataclass(frozen=True)
class TensorDesc:
    index: int
    dtype_code: int
    shape: tuple[int, ...]
    nbytes: int
    scale: float
    zero_point: int

    @property
    def dtype(self) -> np.dtype:
        try:
            return TFLITE_DTYPES[self.dtype_code]
        except KeyError:
            raise LinkError(f"device reported unknown tensor type {self.dtype_code}") from None


_FLOAT_ABI_RE = re.compile(r"\bfloat-abi=(\w+)")


def float_abi_of(core_version: str) -> str:
    """The float ABI a handshake's core version names (firmware/include/hil_abi.h: "soft",
    "softfp", "hard"; "host" for the twin's core), or "" when it names none (older images)."""
    m = _FLOAT_ABI_RE.search(core_version)
    return m.group(1) if m else ""


@dataclass(frozen=True)
class DeviceInfo:
    proto_version: int
    fw_version: str
    board: str
    cpu: str
    tflm_version: str
    core_version: str
    model_hash: str
    image_hash: str
    arena_size: int
    arena_used: int
    clock_hz: int
    rx_window: int
    max_frame: int
    boot_id: int
    nonce: int
    flags: Flag
    stack_used: int
    inputs: tuple[TensorDesc, ...] = ()
    outputs: tuple[TensorDesc, ...] = ()
    model_error: str = ""
    input_block: int = 16  # chunks start on, and cover whole, blocks of this many bytes
    staging: int = 0  # of rx_window, bytes that hold the next vector while one computes
    max_runs: int = 0  # largest runs + warmup of one INVOKE (0: not reported)

    @property
    def simulated(self) -> bool:
        return bool(self.flags & Flag.SIMULATED)

    @property
    def float_abi(self) -> str:
        return float_abi_of(self.core_version)

    @property
    def provenance(self) -> Provenance:
        """Where the device's cycle counts come from, as its flags say."""
        if self.flags & Flag.CLOCK_ESTIMATED:
            return Provenance.ESTIMATED
        if self.flags & Flag.EMULATED:
            return Provenance.EMULATED
        return Provenance.MEASURED

    @property
    def model_ready(self) -> bool:
        return bool(self.flags & Flag.MODEL_READY)

    @property
    def input_bytes(self) -> int:
        return sum(t.nbytes for t in self.inputs)

    @property
    def output_bytes(self) -> int:
        return sum(t.nbytes for t in self.outputs)


@dataclass(frozen=True)
class Result:
    """One RESULT: per-run cycle samples and the concatenated output bytes."""

    boot_id: int
    runs: int
    cycles: tuple[int, ...]
    output_total: int
    output: bytes
    host_seconds: float = 0.0
    extra: dict[str, float] = field(default_factory=dict)


def iter_tlv(payload: bytes) -> list[tuple[int, bytes]]:
    items, i = [], 0
    while i < len(payload):
        if i + 2 > len(payload):
            raise LinkError(f"truncated TLV at byte {i} of {len(payload)}")
        tag, n = payload[i], payload[i + 1]
        if i + 2 + n > len(payload):
            raise LinkError(f"TLV {tag:#04x} claims {n} bytes past the payload end")
        items.append((tag, payload[i + 2 : i + 2 + n]))
        i += 2 + n
    return items


def _tensor(value: bytes) -> TensorDesc:
    index, dtype, ndims, _ = struct.unpack_from("<BBBB", value)
    nbytes, scale, zp = struct.unpack_from("<Ifi", value, 4)
    dims = struct.unpack_from(f"<{ndims}i", value, 16)
    return TensorDesc(index, dtype, tuple(dims), nbytes, float(scale), zp)


@_reply("HELLO_R")
def parse_hello(payload: bytes) -> DeviceInfo:
    strs: dict[int, str] = {}
    ints: dict[int, int] = {}
    hashes: dict[int, str] = {}
    inputs: list[TensorDesc] = []
    outputs: list[TensorDesc] = []
    for tag, value in iter_tlv(payload):
        if tag in (Tag.INPUT, Tag.OUTPUT):
            (inputs if tag == Tag.INPUT else outputs).append(_tensor(value))
        elif tag in (Tag.MODEL_HASH, Tag.IMAGE_HASH):
            hashes[tag] = value.hex()
        elif tag == Tag.PROTO_VERSION:
            ints[tag] = struct.unpack("<H", value)[0]
        elif len(value) == 4 and tag not in _STRING_TAGS:
            ints[tag] = struct.unpack("<I", value)[0]
        else:
            strs[tag] = value.decode("utf-8", errors="replace")
    return DeviceInfo(
        proto_version=ints.get(Tag.PROTO_VERSION, 0),
        fw_version=strs.get(Tag.FW_VERSION, ""),
        board=strs.get(Tag.BOARD, ""),
        cpu=strs.get(Tag.CPU, ""),
        tflm_version=strs.get(Tag.TFLM_VERSION, ""),
        core_version=strs.get(Tag.CORE_VERSION, ""),
        model_hash=hashes.get(Tag.MODEL_HASH, ""),
        image_hash=hashes.get(Tag.IMAGE_HASH, ""),
        arena_size=ints.get(Tag.ARENA_SIZE, 0),
        arena_used=ints.get(Tag.ARENA_USED, 0),
        clock_hz=ints.get(Tag.CLOCK_HZ, 0),
        rx_window=ints.get(Tag.RX_WINDOW, 0),
        max_frame=ints.get(Tag.MAX_FRAME, 0),
        boot_id=ints.get(Tag.BOOT_ID, 0),
        nonce=ints.get(Tag.NONCE, 0),
        flags=Flag(ints.get(Tag.FLAGS, 0)),
        stack_used=ints.get(Tag.STACK_USED, 0),
        inputs=tuple(sorted(inputs, key=lambda t: t.index)),
        outputs=tuple(sorted(outputs, key=lambda t: t.index)),
        model_error=strs.get(Tag.MODEL_ERROR, ""),
        input_block=ints.get(Tag.INPUT_BLOCK, 16),
        staging=ints.get(Tag.STAGING, 0),
        max_runs=ints.get(Tag.MAX_RUNS, 0),
    )


_STRING_TAGS = frozenset(
    {Tag.FW_VERSION, Tag.BOARD, Tag.CPU, Tag.TFLM_VERSION, Tag.CORE_VERSION, Tag.MODEL_ERROR}
)


@_reply("STATS_R")
def parse_stats(payload: bytes) -> dict[str, int]:
    return {
        Tag(tag).name.lower() if tag in Tag._value2member_map_ else f"tag_{tag:#x}": struct.unpack(
            "<I", value
        )[0]
        for tag, value in iter_tlv(payload)
        if len(value) == 4
    }


@_reply("RESULT")
def parse_result(payload: bytes) -> Result:
    if len(payload) < 12:
        raise LinkError(f"RESULT payload of {len(payload)} bytes is shorter than its header")
    boot_id, runs, ns = struct.unpack_from("<IHH", payload)
    cycles = struct.unpack_from(f"<{ns}I", payload, 8)
    (total,) = struct.unpack_from("<I", payload, 8 + 4 * ns)
    return Result(boot_id, runs, tuple(cycles), total, bytes(payload[12 + 4 * ns :]))


@dataclass(frozen=True)
class OpCycles:
    """One operator of the last invoke, in execution order, and its count at the device's
    clock (its name cut at PROFILE_NAME_MAX bytes)."""

    index: int
    name: str
    cycles: int


@_reply("PROFILE_R")
def parse_profile(payload: bytes) -> tuple[int, tuple[OpCycles, ...]]:
    """boot_id, and the operators of a PROFILE_R."""
    if len(payload) < 6:
        raise LinkError(f"PROFILE_R payload of {len(payload)} bytes is shorter than its header")
    boot_id, count = struct.unpack_from("<IH", payload)
    ops, at = [], 6
    for index in range(count):
        if at + 5 > len(payload):
            raise LinkError(f"PROFILE_R ends within operator {index} of {count}")
        cycles, n = struct.unpack_from("<IB", payload, at)
        name = payload[at + 5 : at + 5 + n].decode("utf-8", errors="replace")
        ops.append(OpCycles(index, name, cycles))
        at += 5 + n
    return boot_id, tuple(ops)


@dataclass(frozen=True)
class InputState:
    """INPUT_STATE_R: which blocks of vector ``vector`` the device holds."""

    boot_id: int
    vector: int
    block: int
    total: int
    held: int
    bitmap: bytes

    def has(self, offset: int) -> bool:
        """Whether the block that starts at ``offset`` is held."""
        b = offset // self.block
        return b // 8 < len(self.bitmap) and bool(self.bitmap[b // 8] >> (b % 8) & 1)


@_reply("INPUT_STATE_R")
def parse_input_state(payload: bytes) -> InputState:
    if len(payload) < 19:
        raise LinkError(f"INPUT_STATE_R payload of {len(payload)} bytes is shorter than its header")
    boot_id, vector, block, total, held, blocks = struct.unpack_from("<IBIIIH", payload)
    bitmap = bytes(payload[19:])
    if len(bitmap) != (blocks + 7) // 8 or block == 0:
        raise LinkError(f"INPUT_STATE_R: {len(bitmap)} bitmap bytes for {blocks} blocks")
    return InputState(boot_id, vector, block, total, held, bitmap)


@_reply("ERROR")
def parse_error(payload: bytes) -> tuple[int, int, int, int, str]:
    """boot_id, code, request type, detail, reason."""
    if len(payload) < 10:
        raise LinkError(f"ERROR payload of {len(payload)} bytes is shorter than its header")
    boot_id, code, req, detail = struct.unpack_from("<IBBI", payload)
    return boot_id, code, req, detail, payload[10:].decode("utf-8", errors="replace")
