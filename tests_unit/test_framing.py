"""Frame encoding on the host, and agreement with the C core's CRC and decoder."""

from __future__ import annotations

import re
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.paths import firmware_lib_dir
from harness.protocol import constants
from harness.protocol.framing import (
    BadFrame,
    Frame,
    FrameDecoder,
    encode_frame,
    encoded_size,
    frame_body,
)
from harness.sim.build import build_host_library
from harness.sim.corelib import CoreLibrary

payloads = st.binary(max_size=1200)


@given(msg=st.integers(0, 255), seq=st.integers(0, 255), payload=payloads)
def test_encode_decode_roundtrip(msg, seq, payload):
    wire = encode_frame(msg, seq, payload)
    assert wire[0] == 0 and wire[-1] == 0 and 0 not in wire[1:-1]
    assert len(wire) <= encoded_size(len(payload))
    assert FrameDecoder().feed(wire) == [Frame(msg, seq, payload)]


@given(
    frames=st.lists(st.tuples(st.integers(0, 255), payloads), max_size=5),
    cuts=st.lists(st.integers(0, 4000), max_size=8),
)
def test_stream_split_anywhere_decodes_the_same(frames, cuts):
    wire = b"".join(encode_frame(m, i, p) for i, (m, p) in enumerate(frames))
    dec = FrameDecoder()
    out = []
    prev = 0
    for cut in [*sorted(c % (len(wire) + 1) for c in cuts), len(wire)]:
        out += dec.feed(wire[prev:cut])
        prev = cut
    assert out == [Frame(m, i, p) for i, (m, p) in enumerate(frames)]


@given(noise=st.binary(min_size=1, max_size=200), payload=payloads)
def test_noise_becomes_bad_frames_then_the_frame_decodes(noise, payload):
    out = FrameDecoder().feed(noise + encode_frame(1, 2, payload))
    assert out[-1] == Frame(1, 2, payload)
    assert all(isinstance(f, BadFrame) for f in out[:-1])


@pytest.fixture(scope="module")
def core() -> CoreLibrary:
    """The C core, built (or taken from the cache) before any example runs: a build inside
    the first example would count against hypothesis's deadline."""
    return CoreLibrary(build_host_library())


@given(data=st.binary(max_size=2000), seed=st.integers(0, 2**32 - 1))
def test_c_core_crc_matches_zlib(core, data, seed):
    assert core.crc32(data) == zlib.crc32(data)
    assert core.crc32(data, seed) == zlib.crc32(data, seed)


def test_python_constants_match_the_c_header():
    header = (firmware_lib_dir("hil_core") / "hil_proto.h").read_text()
    defines = {
        m[0]: int(m[1], 0) for m in re.findall(r"#define (HIL_\w+) (0x[0-9A-Fa-f]+|\d+)u", header)
    }
    expected = {
        **{f"HIL_MSG_{m.name}": m.value for m in constants.Msg},
        **{f"HIL_E_{e.name}": e.value for e in constants.Err},
        **{f"HIL_TAG_{t.name}": t.value for t in constants.Tag},
        **{f"HIL_FLAG_{f.name}": f.value for f in constants.Flag},
        "HIL_PROTO_VERSION": constants.PROTO_VERSION,
        "HIL_HEADER_LEN": constants.HEADER_LEN,
        "HIL_CRC_LEN": constants.CRC_LEN,
        "HIL_MAX_DIMS": constants.MAX_DIMS,
        "HIL_PROFILE_NAME_MAX": constants.PROFILE_NAME_MAX,
        "HIL_INPUT_FLAG_INVOKE": constants.INPUT_FLAG_INVOKE,
        "HIL_REPLY_BIT": constants.REPLY_BIT,
    }
    assert {k: defines.get(k) for k in expected} == expected
    # and nothing in the header is missing from Python
    assert set(defines) <= set(expected)



@pytest.mark.parametrize("n", [0, 1, 100, 245])
def test_encoded_size_of_a_short_frame_is_exact(n):
    """A body under 254 bytes: COBS adds exactly one byte, whatever the bytes."""
    assert len(encode_frame(0x11, 5, bytes(n))) == encoded_size(n)


@pytest.mark.parametrize("n", [501, 600, 1100])
def test_encoded_size_is_reached_by_a_frame_without_zero_bytes(n):
    """COBS adds one byte per 254 zero-free bytes: the largest frame of its length."""
    payload = b"\x01" * n
    seq = next(s for s in range(1, 256) if 0 not in frame_body(0x11, s, payload))
    assert len(encode_frame(0x11, seq, payload)) == encoded_size(n)
