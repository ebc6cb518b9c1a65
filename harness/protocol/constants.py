"""Protocol constants; firmware/lib/hil_core/src/hil_proto.h is the source, a unit test compares."""

from __future__ import annotations

import enum

PROTO_VERSION = 2
HEADER_LEN = 4
CRC_LEN = 4
FRAME_OVERHEAD = HEADER_LEN + CRC_LEN
MAX_DIMS = 6
PROFILE_NAME_MAX = 48
INPUT_FLAG_INVOKE = 0x01
REPLY_BIT = 0x80


class Msg(enum.IntEnum):
    HELLO = 0x01
    SET_INPUT = 0x02
    INVOKE = 0x03
    GET_OUTPUT = 0x04
    STATS = 0x05
    RESET = 0x06
    ECHO = 0x07
    PROFILE = 0x08
    INPUT_STATE = 0x09
    HELLO_R = 0x81
    ACK = 0x82
    RESULT = 0x83
    OUTPUT = 0x84
    STATS_R = 0x85
    RESET_R = 0x86
    ECHO_R = 0x87
    PROFILE_R = 0x88
    INPUT_STATE_R = 0x89
    BOOT = 0xF0
    ERROR = 0xEE


class Err(enum.IntEnum):
    CRC = 1
    LENGTH = 2
    TOO_LARGE = 3
    UNKNOWN_TYPE = 4
    BAD_ARG = 5
    GAP = 6
    INCOMPLETE = 7
    NO_MODEL = 8
    INVOKE = 9
    RANGE = 10
    OVERFLOW = 11
    COBS = 12
    LIMIT = 13


# Errors about a frame that did not decode: its type and seq are not to be trusted.
FRAME_ERRORS = frozenset({Err.CRC, Err.LENGTH, Err.TOO_LARGE, Err.COBS})


class Tag(enum.IntEnum):
    PROTO_VERSION = 0x01
    FW_VERSION = 0x02
    BOARD = 0x03
    TFLM_VERSION = 0x04
    CORE_VERSION = 0x05
    MODEL_HASH = 0x06
    IMAGE_HASH = 0x07
    ARENA_SIZE = 0x08
    ARENA_USED = 0x09
    CLOCK_HZ = 0x0A
    RX_WINDOW = 0x0B
    MAX_FRAME = 0x0C
    BOOT_ID = 0x0D
    NONCE = 0x0E
    FLAGS = 0x0F
    INPUT = 0x10
    OUTPUT = 0x11
    MODEL_ERROR = 0x12
    STACK_USED = 0x13
    CPU = 0x14
    INPUT_BLOCK = 0x15
    STAGING = 0x16
    MAX_RUNS = 0x17
    FRAMES_OK = 0x40
    FRAMES_BAD = 0x41
    BYTES_DROPPED = 0x42
    INVOKES = 0x43
    ERRORS_SENT = 0x44
    OVERFLOWS = 0x45


class Flag(enum.IntFlag):
    SIMULATED = 0x01
    CLOCK_ESTIMATED = 0x02
    MODEL_READY = 0x04
    EMULATED = 0x08
