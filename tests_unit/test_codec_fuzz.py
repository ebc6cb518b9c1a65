"""The host codec under arbitrary bytes (hypothesis): every reply parser either decodes or
raises LinkError, never another exception; a resume sends exactly the chunks whose blocks
the device lacks."""

from __future__ import annotations

import contextlib
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.errors import LinkError
from harness.protocol import messages
from harness.protocol.constants import Msg
from harness.protocol.jobs import SET_INPUT_HEAD, Job, LinkPlan
from harness.protocol.messages import InputState

PARSERS = [
    messages.parse_hello,
    messages.parse_result,
    messages.parse_error,
    messages.parse_profile,
    messages.parse_stats,
    messages.parse_input_state,
    messages.iter_tlv,
]


@pytest.mark.parametrize("parse", PARSERS, ids=lambda f: f.__name__)
@settings(max_examples=300, deadline=None)
@given(payload=st.binary(max_size=400))
def test_a_reply_parser_decodes_or_raises_link_error(parse, payload):
    with contextlib.suppress(LinkError):
        parse(payload)


@settings(max_examples=200, deadline=None)
@given(
    blocks=st.integers(1, 200),
    per_chunk=st.integers(1, 8),
    held=st.data(),
    bench=st.booleans(),
)
def test_a_resume_sends_exactly_the_chunks_with_missing_blocks(blocks, per_chunk, held, bench):
    block = 16
    total = blocks * block - held.draw(st.integers(0, block - 1))  # a short last block too
    plan = LinkPlan(window=4096, chunk=per_chunk * block, block=block, latency_s=0.0)
    data = bytes(total)
    frames = plan.vector_frames(data, 9, (1, 0) if bench else None)
    have = held.draw(st.lists(st.booleans(), min_size=blocks, max_size=blocks))
    bitmap = bytearray((blocks + 7) // 8)
    for i, h in enumerate(have):
        bitmap[i // 8] |= h << (i % 8)
    state = InputState(1, 9, block, total, 0, bytes(bitmap))
    todo = Job(1, frames, heavy=True, vector=9).missing(state)
    for i, (msg_type, payload) in enumerate(frames):
        if msg_type != Msg.SET_INPUT or i == len(frames) - 1:
            assert i in todo  # the final frame always goes again
            continue
        (off,) = struct.unpack_from("<I", payload, 2)
        n = len(payload) - SET_INPUT_HEAD
        lacking = not all(have[b] for b in range(off // block, -(-(off + n) // block)))
        assert (i in todo) == lacking
    # another vector's state: everything goes again
    other = InputState(1, 10, block, total, 0, bytes(bitmap))
    assert Job(1, frames, heavy=True, vector=9).missing(other) == list(range(len(frames)))
