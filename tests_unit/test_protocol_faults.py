"""The device core under malformed input: every fault ends in a typed error or a
resynchronisation within a bounded time, never in silence or a hang. Each test runs against
the twin (the core compiled for the host) and against the protocol-only image on QEMU (the
core as Cortex-M4 machine code behind the board's own glue, src/app/main.cpp)."""

from __future__ import annotations

import struct
import threading
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.boards.catalog import load_catalog
from harness.emu import protocol_image
from harness.emu.driver import LINK_BYTES_PER_S
from harness.emu.protocol_image import INPUT_SHAPE, expected_output, start_protocol_device
from harness.errors import DeviceRebooted
from harness.protocol.constants import Err, Msg
from harness.protocol.framing import Frame, encode_frame, frame_body
from harness.protocol.messages import parse_error, parse_result
from harness.sim.launcher import start_twin
from harness.tflite.runtime import HostTflm

from .conftest import DIGITS_MODEL, connect

# every fault below must be answered within this; answers take milliseconds, but QEMU shares
# two CPUs with the rest of the suite and may be descheduled for a while
BOUND_S = 10.0


def first_error(frames) -> tuple[int, int, int]:
    for f in frames:
        if isinstance(f, Frame) and f.type == Msg.ERROR:
            _, code, req, detail, _ = parse_error(f.payload)
            return code, req, detail
    raise AssertionError(f"no ERROR frame among {frames!r}")


def wait_for(client, pred, bound=BOUND_S):
    seen = []
    end = time.monotonic() + bound
    while time.monotonic() < end:
        seen += client.drain(0.02)
        if pred(seen):
            return seen
    raise AssertionError(f"nothing matching within {bound}s; got {seen!r}")


def has_error(frames) -> bool:
    return any(isinstance(f, Frame) and f.type == Msg.ERROR for f in frames)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(garbage=st.binary(min_size=1, max_size=300))
def test_garbage_before_a_frame_is_survived(client, garbage):
    client.send_raw(garbage)
    info = client.hello()  # resynchronises on the next delimiter
    assert info.model_ready


def test_corrupted_checksum_gets_a_crc_error(client):
    body = bytearray(frame_body(Msg.ECHO, 7, b"hello"))
    body[-1] ^= 0x40
    from cobs import cobs

    client.send_raw(b"\x00" + cobs.encode(bytes(body)) + b"\x00")
    code, req, _ = first_error(wait_for(client, has_error))
    assert code == Err.CRC
    assert req == Msg.ECHO  # the header was intact, so the device names the request
    assert client.echo(b"after") == b"after"


def test_truncated_frame_is_reported_and_the_next_frame_served(client):
    wire = encode_frame(Msg.ECHO, 9, bytes(range(1, 100)))
    client.send_raw(wire[: len(wire) // 2])  # the rest is lost, delimiter included
    assert client.echo(b"next") == b"next"  # its leading delimiter ends the fragment
    stats = client.stats()
    assert stats["frames_bad"] >= 1
    assert stats["errors_sent"] >= 1


def test_oversized_frame_gets_too_large_with_the_limit(client):
    limit = client.info.max_frame
    client.send_raw(encode_frame(Msg.ECHO, 3, b"\x55" * (limit + 10)))
    code, _, detail = first_error(wait_for(client, has_error))
    assert code == Err.TOO_LARGE
    assert detail == limit
    assert client.echo(b"ok") == b"ok"


def test_length_field_mismatch_gets_length_error(client):
    from cobs import cobs

    body = struct.pack("<BBH", Msg.ECHO, 1, 50) + b"abc"
    body += struct.pack("<I", 0)
    client.send_raw(b"\x00" + cobs.encode(body) + b"\x00")
    code, _, _ = first_error(wait_for(client, has_error))
    assert code == Err.LENGTH


@pytest.mark.parametrize(
    ("msg", "payload", "code"),
    [
        (0x55, b"", Err.UNKNOWN_TYPE),
        (Msg.INVOKE, struct.pack("<HH", 1, 0), Err.INCOMPLETE),
        (Msg.INVOKE, struct.pack("<HH", 0, 0), Err.BAD_ARG),
        (Msg.SET_INPUT, struct.pack("<BBI", 0, 1, 8) + b"x" * 16, Err.BAD_ARG),  # mid-block
        (Msg.SET_INPUT, struct.pack("<BBI", 0, 1, 16) + b"x" * 15, Err.BAD_ARG),  # part of one
        (Msg.SET_INPUT, struct.pack("<BBI", 0, 1, 0) + b"x" * 65, Err.RANGE),  # 64 B inputs
        (Msg.SET_INPUT, struct.pack("<BBI", 1, 1, 16) + b"x" * 16, Err.INCOMPLETE),
        (Msg.GET_OUTPUT, struct.pack("<IH", 5, 10), Err.RANGE),
        (Msg.HELLO, b"", Err.BAD_ARG),
    ],
)
def test_bad_requests_get_typed_errors(client, msg, payload, code):
    client.send_raw(encode_frame(msg, 42, payload))
    got, req, _ = first_error(wait_for(client, has_error))
    assert got == code
    assert req == msg


def test_chunks_of_two_vectors_never_mix(client):
    """A chunk of vector B cannot complete vector A, even at the right offset: B starts
    afresh, holding only its own chunk, and its invoke is refused as incomplete."""
    n = client.info.input_bytes
    half = n // 2
    client.send_raw(encode_frame(Msg.SET_INPUT, 1, struct.pack("<BBI", 0, 10, 0) + b"\x01" * half))
    client.send_raw(
        encode_frame(Msg.SET_INPUT, 2, struct.pack("<BBI", 1, 11, half) + b"\x02" * (n - half))
    )
    frames = wait_for(client, has_error)
    code, _, detail = first_error(frames)
    assert code == Err.INCOMPLETE
    assert detail == 0  # the first byte B lacks: A's half does not count
    assert not any(isinstance(f, Frame) and f.type == Msg.RESULT for f in frames)
    state = client.input_state()
    assert (state.vector, state.held, state.total) == (11, n - half, n)
    assert not state.has(0) and state.has(half)


def test_chunks_in_any_order_complete_a_vector_and_resume_where_one_was_lost(client, device):
    """The device keeps what arrived after a lost chunk; the missing one alone completes it."""
    x = np.random.default_rng(3).integers(-128, 128, device.input_shape, dtype=np.int8)
    data, block = x.tobytes(), client.info.input_block
    n = len(data)
    for off in range(block, n, block):  # every block but the first
        client.request(Msg.SET_INPUT, struct.pack("<BBI", 0, 77, off) + data[off : off + block],
                       Msg.ACK)
    state = client.input_state()
    assert (state.vector, state.held) == (77, n - block)
    assert [state.has(o) for o in range(0, n, block)] == [False] + [True] * (n // block - 1)
    reply = client.request(Msg.SET_INPUT, struct.pack("<BBI", 1, 77, 0) + data[:block], Msg.RESULT)
    assert parse_result(reply.payload).output == device.truth(x[None])[0]
    assert client.input_state().held == 0  # an invoke consumes the input


def test_window_is_respected(client):
    rng = np.random.default_rng(1)
    xs = rng.integers(-128, 128, size=(40, client.info.input_bytes), dtype=np.int8)
    results = list(client.infer_stream(x.tobytes() for x in xs))
    assert len(results) == 40
    assert client.counters.max_inflight_bytes <= client.info.rx_window
    assert client.stats()["overflows"] == 0


def test_reboot_in_the_middle_of_a_vector_is_detected(digits_model):
    """At 2400 baud a 64-byte vector takes ~0.3 s on the wire: reboot the board meanwhile."""
    with start_twin("nano33", DIGITS_MODEL, baud=2400) as tw:
        c = connect(tw.port, 240, reply_timeout=0.5)
        info = c.hello()
        x = np.arange(info.input_bytes, dtype=np.uint8).tobytes()
        timer = threading.Timer(0.08, tw.reboot)
        timer.start()
        start = time.monotonic()
        with pytest.raises(DeviceRebooted) as exc:
            c.infer(x)
        timer.join()
        assert time.monotonic() - start < 5.0
        assert exc.value.old_boot_id == info.boot_id
        assert exc.value.new_boot_id not in (None, info.boot_id)
        # after a new handshake the same vector gives the host runtime's answer
        c.hello()
        got = c.infer(x).output
        want = HostTflm(digits_model).run(
            (np.frombuffer(x, np.int8).reshape(1, *digits_model.inputs[0].shape),)
        )
        assert got == want[0][0].tobytes()
        c.link.close()


def test_reboot_during_an_invoke_is_detected_on_qemu(tmp_path):
    """A machine reset while the emulated board works through a long benchmark (1 G
    instructions: seconds of QEMU) is a reboot to the client; after a new handshake the same
    vector gets the same answer."""
    with start_protocol_device(load_catalog()["nano33"], tmp_path / "qemu.log") as qemu:
        c = connect(qemu.port, LINK_BYTES_PER_S, reply_timeout=2.0)
        info = c.hello()
        x = np.full(INPUT_SHAPE, 100, dtype=np.int8)  # 200 k instructions per invoke
        timer = threading.Timer(0.3, qemu.reset)
        timer.start()
        with pytest.raises(DeviceRebooted) as exc:
            c.benchmark(x.tobytes(), runs=5000)
        timer.join()
        assert exc.value.old_boot_id == info.boot_id
        assert exc.value.new_boot_id not in (None, info.boot_id)
        assert c.hello().boot_id == exc.value.new_boot_id
        assert c.infer(x.tobytes()).output == expected_output(x).tobytes()
        c.link.close()


def test_reset_command_reboots_and_announces(client):
    old = client.info.boot_id
    client.reset()
    info = client.hello()
    assert info.boot_id != old


def test_profile_names_each_operator_of_the_last_invoke(client, device, digits_model):
    """PROFILE: per-operator counts of the last invoke. The twin reports its cost model's
    estimate for each operator of the model; the protocol-only image measures its two steps,
    the loop's count being its instructions plus a few dozen (the call, the counter's read)."""
    x = np.zeros(device.input_shape, dtype=np.int8).reshape(-1)
    x[0] = 50
    result = client.infer(x.tobytes())
    ops = client.profile()
    assert [op.index for op in ops] == list(range(len(ops)))
    assert sum(op.cycles for op in ops) <= result.cycles[0]
    if device.name == "twin":
        from harness.sim.costmodel import estimate_op_cycles

        want = estimate_op_cycles(digits_model, "cortex-m4f")
        assert [(op.name, op.cycles) for op in ops] == want
    else:
        assert [op.name for op in ops] == ["SUM", "SPIN"]
        spin = protocol_image.spin_instructions(x)
        assert spin <= ops[1].cycles <= spin + 64, (ops, spin)
    # asking again does not invoke: the same answer
    assert client.profile() == ops
