"""The client's requests that the HIL suite relies on, in this process against a twin (the suite
runs them in a subprocess, where mutation testing cannot see them): benchmarks, outputs larger
than a frame, raw requests."""

from __future__ import annotations

import struct
from collections.abc import Iterator

import numpy as np
import pytest

from harness.errors import DeviceErrorReply
from harness.protocol import engine
from harness.protocol.client import DeviceClient
from harness.protocol.constants import Err, Msg
from harness.protocol.engine import MAX_FRAMES_IN_FLIGHT
from harness.protocol.framing import Frame, FrameDecoder, encode_frame
from harness.sim.launcher import start_twin
from harness.tflite.model import TfliteModel
from harness.tflite.runtime import HostTflm

from .conftest import ZOO, connect


def test_benchmark_times_the_runs_asked_for(client, device):
    x = np.arange(int(np.prod(device.input_shape)), dtype=np.int8).reshape(device.input_shape)
    result = client.benchmark(x.tobytes(), runs=5, warmup=2)
    assert result.runs == 5 and len(result.cycles) == 5
    assert all(c > 0 for c in result.cycles)
    assert result.output == device.truth(x[None])[0]
    assert client.benchmark(x.tobytes(), runs=1).runs == 1  # warmup 0 and one run: the minimum


@pytest.mark.parametrize(
    ("runs", "warmup"), [(0, 0), (65536, 0), (1, -1), (1, 65536), (9000, 1001)]
)
def test_benchmark_refuses_counts_the_protocol_or_the_device_cannot_carry(client, runs, warmup):
    assert client.info.max_runs == 10000  # the device's bound, from its handshake
    with pytest.raises(ValueError, match=r"runs must be 1\.\.65535, warmup 0\.\.65535 and runs "
                       r"\+ warmup <= 10000 \(the device's bound\)"):
        client.benchmark(b"", runs=runs, warmup=warmup)


def test_the_device_refuses_runs_beyond_its_bound_with_a_typed_error(client):
    """A request past the client's check (a raw INVOKE) gets ERROR LIMIT naming the bound."""
    with pytest.raises(DeviceErrorReply) as err:
        client.request(Msg.INVOKE, struct.pack("<HH", 60000, 60000), Msg.RESULT)
    assert (err.value.code, err.value.detail) == (Err.LIMIT, 10000)
    assert "bound" in err.value.reason


def test_raw_request_returns_the_reply_frame(client):
    assert client.request(Msg.ECHO, b"ping", Msg.ECHO_R).payload == b"ping"


def zoo_client(name: str) -> Iterator[tuple[DeviceClient, TfliteModel]]:
    """A twin running a model of the zoo, and a client that has handshaken with it."""
    with start_twin("nano33", ZOO / name) as tw:
        c = connect(tw.port, 64_000, reply_timeout=0.5)
        c.hello()
        yield c, TfliteModel.load(ZOO / name)
        c.close()
        c.link.close()  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def large() -> Iterator[tuple[DeviceClient, TfliteModel]]:
    yield from zoo_client("large_output.tflite")


def test_an_output_larger_than_a_frame_is_fetched_whole(large):
    client, model = large
    x = np.random.default_rng(5).integers(-128, 128, model.inputs[0].shape, dtype=np.int8)
    result = client.infer(x.tobytes())
    want = HostTflm(model).run((x[None],))[0][0].tobytes()
    assert result.output_total == len(want) > 1040  # more than the device's receive buffer
    assert result.output == want
    assert client.get_output(100, 50) == want[100:150]


@pytest.fixture(scope="module")
def large_input() -> Iterator[tuple[DeviceClient, TfliteModel]]:
    yield from zoo_client("large_input.tflite")


def test_a_vector_larger_than_a_frame_goes_in_chunks_that_fit(large_input):
    """2304 input bytes through 1040-byte frames: several SET_INPUT chunks, the last one
    invoking; never more in flight than the window, so nothing is lost or sent twice."""
    client, model = large_input
    assert client.info is not None
    window, frame = client.info.rx_window, client.info.max_frame
    xs = np.random.default_rng(9).integers(-128, 128, (3, *model.inputs[0].shape), dtype=np.int8)
    before = client.counters.frames_sent
    results = list(client.infer_stream(x.tobytes() for x in xs))
    want = HostTflm(model).run((xs,))[0]
    assert [r.output for r in results] == [w.tobytes() for w in want]
    assert client.counters.resends == 0
    assert client.counters.max_inflight_bytes <= window
    # the chunks are the largest whole number of input blocks a frame takes: the fewest frames
    block = client.info.input_block
    chunk = (frame - 8 - 6) // block * block
    assert client.plan.chunk == chunk
    per_vector = -(-model.inputs[0].nbytes // chunk)
    assert per_vector >= 3
    # and one INPUT_STATE behind the last invoke, whose reply would reveal a lost invoke
    assert client.counters.frames_sent - before == 3 * per_vector + 1


def test_small_chunks_never_reuse_a_sequence_number_in_flight(large_input):
    """16-byte chunks of a 2304-byte input (144 frames per vector) under a 36 KiB window:
    more frames than sequence numbers would fit; at most 96 are in flight, so a reply can
    never match another frame with the same number, and every answer is right."""
    client, model = large_input
    client._chunk = 16  # as after repeated losses, at the smallest block
    xs = np.random.default_rng(11).integers(-128, 128, (3, *model.inputs[0].shape), np.int8)
    results = list(client.infer_stream(x.tobytes() for x in xs))
    client._chunk = client.plan.chunk
    want = HostTflm(model).run((xs,))[0]
    assert [r.output for r in results] == [w.tobytes() for w in want]
    assert client.counters.max_inflight_frames == MAX_FRAMES_IN_FLIGHT == 96


def test_a_long_stream_keeps_vectors_apart(client, device):
    """300 vectors: the vector id (one byte) wraps, and every answer is its own vector's."""
    xs = np.random.default_rng(4).integers(-128, 128, (300, *device.input_shape), dtype=np.int8)
    results = list(client.infer_stream(x.tobytes() for x in xs))
    assert [r.output for r in results] == device.truth(xs)


def test_a_vector_of_the_wrong_size_is_refused_before_sending(client):
    assert client.info is not None
    with pytest.raises(ValueError, match=f"has 3 bytes, the model's inputs take "
                       f"{client.info.input_bytes}"):
        client.infer(b"abc")


class ShortResults:
    """A link whose device sends at most ``keep`` output bytes in a RESULT, as a real device
    does for outputs over 64 KiB: the client must fetch the rest with GET_OUTPUT."""

    def __init__(self, port, keep: int):
        self.port, self.keep = port, keep
        self.decoder = FrameDecoder()
        self.pending = bytearray()

    timeout = property(lambda self: self.port.timeout)

    @timeout.setter
    def timeout(self, value):
        self.port.timeout = value

    @property
    def in_waiting(self) -> int:
        self._pull()
        return len(self.pending)

    def write(self, data: bytes) -> int:
        return self.port.write(data)

    def read(self, size: int = 1) -> bytes:
        self._pull()
        if not self.pending:
            self.pending += self._rewrite(self.port.read(max(1, self.port.in_waiting)))
        out = bytes(self.pending[:size])
        del self.pending[:size]
        return out

    def _pull(self) -> None:
        if self.port.in_waiting:
            self.pending += self._rewrite(self.port.read(self.port.in_waiting))

    def _rewrite(self, data: bytes) -> bytes:
        out = b""
        for f in self.decoder.feed(data):
            assert isinstance(f, Frame), f
            payload = f.payload
            if f.type == Msg.RESULT:
                ns = struct.unpack_from("<H", payload, 6)[0]
                payload = payload[: 12 + 4 * ns + self.keep]
            out += encode_frame(f.type, f.seq, payload)
        return out


def test_an_output_larger_than_one_reply_is_fetched_in_parts(large):
    client, model = large
    port = client.link
    short = DeviceClient(ShortResults(port, keep=100), byte_rate=64_000, reply_timeout=0.5)
    short.hello()
    x = np.random.default_rng(6).integers(-128, 128, model.inputs[0].shape, dtype=np.int8)
    result = short.infer(x.tobytes())
    want = HostTflm(model).run((x[None],))[0][0].tobytes()
    assert result.output_total == len(want) and result.output == want
    assert result.boot_id == short.info.boot_id


def test_a_typed_error_reply_fails_its_request_and_only_it(client, device):
    """GET_OUTPUT past the output: the device answers RANGE; the next requests, pipelined
    vectors included, are unaffected."""
    with pytest.raises(DeviceErrorReply) as info:
        client.get_output(10**6, 4)
    assert (info.value.code, info.value.name) == (Err.RANGE, "RANGE")
    assert "to GET_OUTPUT" in str(info.value)
    xs = np.random.default_rng(8).integers(-128, 128, (5, *device.input_shape), dtype=np.int8)
    results = list(client.infer_stream(x.tobytes() for x in xs))
    assert [r.output for r in results] == device.truth(xs)


def test_the_transcript_holds_every_byte_each_way(twin, tmp_path):
    """The link transcript (reports/logs) is how a rig failure is diagnosed afterwards."""
    path = tmp_path / "link.txt"
    path.write_bytes(b"earlier run\n")  # appended to, never truncated
    c = connect(twin.port, 64_000, reply_timeout=0.5, transcript=path)
    try:
        c.hello()
        assert c.echo(b"\x01\x02") == b"\x01\x02"
    finally:
        c.close()
        c.link.close()  # type: ignore[attr-defined]
    lines = path.read_bytes().splitlines()
    assert lines[0] == b"earlier run"
    sent = b"".join(bytes.fromhex(ln[2:].decode()) for ln in lines[1:] if ln.startswith(b"> "))
    got = b"".join(bytes.fromhex(ln[2:].decode()) for ln in lines[1:] if ln.startswith(b"< "))
    decoded = FrameDecoder().feed(sent)
    assert [f.type for f in decoded if isinstance(f, Frame)] == [Msg.HELLO, Msg.ECHO]
    replies = [f for f in FrameDecoder().feed(got) if isinstance(f, Frame)]
    assert [f.type for f in replies][-2:] == [Msg.HELLO_R, Msg.ECHO_R]


def test_get_output_asks_for_up_to_64_kib(client):
    """Offsets and lengths are unsigned on the wire: a length over 32 KiB is a request the
    device answers (here with RANGE: its output is smaller), not a packing error."""
    with pytest.raises(DeviceErrorReply, match="RANGE"):
        client.get_output(0, 40_000)


class ScriptedDevice:
    """A link to a device that loses the first ECHO and answers each INPUT_STATE with the next
    error of ``probe_errors`` (a damaged request, then no model to say what it holds)."""

    timeout: float | None = 0.01

    def __init__(self, probe_errors: list[int]):
        self.decoder = FrameDecoder()
        self.out = b""
        self.probe_errors = probe_errors
        self.echoes = 0
        self.probes = 0

    @property
    def in_waiting(self) -> int:
        return len(self.out)

    def write(self, data: bytes) -> int:
        for f in self.decoder.feed(data):
            assert isinstance(f, Frame)
            if f.type == Msg.ECHO:
                self.echoes += 1
                if self.echoes > 1:
                    self.out += encode_frame(Msg.ECHO_R, f.seq, f.payload)
            elif f.type == Msg.INPUT_STATE:
                code = self.probe_errors[min(self.probes, len(self.probe_errors) - 1)]
                self.probes += 1
                payload = struct.pack("<IBBI", 7, code, Msg.INPUT_STATE, 0) + b"no"
                self.out += encode_frame(Msg.ERROR, f.seq, payload)
        return len(data)

    def read(self, size: int = 1) -> bytes:
        data, self.out = self.out[:size], self.out[size:]
        return data


def test_an_error_in_reply_to_input_state_is_recovered_from_not_parsed_as_a_state(monkeypatch):
    """The device answers the engine's INPUT_STATE with an error: the request arrived damaged
    (CRC: ask again) or the device cannot say (NO_MODEL: send everything again). Found by the
    random order: the error's payload was parsed as a state and the request failed."""
    # no INPUT_STATE to break the silence before the deadline: the recovery's own are tested
    monkeypatch.setattr(engine, "MAX_NUDGES", 0)
    dev = ScriptedDevice([Err.CRC, Err.NO_MODEL])
    client = DeviceClient(dev, byte_rate=1e6, reply_timeout=0.05, retries=3)
    assert client.echo(b"hi") == b"hi"
    assert dev.echoes == 2 and dev.probes == 2
    assert client.counters.probes == 2 and client.counters.errors == {"CRC": 1, "NO_MODEL": 1}
