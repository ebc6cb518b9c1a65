"""The client under a lossy link: bytes corrupted or lost in either direction. Whatever the
faults, every answer accepted is the device's right answer (the TFLM host runtime's on the
twin; the test backend's on the protocol-only image on QEMU), or a typed error is raised."""

from __future__ import annotations

import re
import time

import numpy as np
import pytest
import serial
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.errors import DeviceTimeout
from harness.protocol.client import DeviceClient

VECTORS = 12


class FaultyLink:
    """A pyserial port that corrupts or drops chosen bytes of chosen writes and reads."""

    def __init__(
        self,
        port: serial.Serial,
        write_faults: dict[int, tuple[str, int]],
        read_faults: dict[int, tuple[str, int]],
    ):
        self.port = port
        self.write_faults = write_faults
        self.read_faults = read_faults
        self.writes = 0
        self.reads = 0

    @property
    def timeout(self):
        return self.port.timeout

    @timeout.setter
    def timeout(self, value):
        self.port.timeout = value

    @property
    def in_waiting(self) -> int:
        return self.port.in_waiting

    @staticmethod
    def _apply(data: bytes, fault: tuple[str, int] | None) -> bytes:
        if not fault or not data:
            return data
        kind, pos = fault
        pos %= len(data)
        if kind == "flip":
            return data[:pos] + bytes([data[pos] ^ 0x5A]) + data[pos + 1 :]
        if kind == "drop":
            return data[:pos] + data[pos + 1 :]
        return b""  # "lose": the whole chunk vanishes

    def write(self, data: bytes) -> int:
        self.writes += 1
        self.port.write(self._apply(data, self.write_faults.get(self.writes)))
        return len(data)

    def read(self, size: int = 1) -> bytes:
        data = self.port.read(size)
        if data:
            self.reads += 1
            data = self._apply(data, self.read_faults.get(self.reads))
        return data


faults = st.dictionaries(
    st.integers(min_value=2, max_value=30),
    st.tuples(st.sampled_from(["flip", "drop", "lose"]), st.integers(min_value=0, max_value=200)),
    max_size=3,
)


@pytest.fixture(scope="module")
def vectors_and_truth(device):
    rng = np.random.default_rng(7)
    xs = rng.integers(-128, 128, size=(VECTORS, *device.input_shape), dtype=np.int8)
    return xs, device.truth(xs)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(write_faults=faults, read_faults=faults)
def test_faults_never_yield_a_wrong_answer(device, vectors_and_truth, write_faults, read_faults):
    xs, truth = vectors_and_truth
    port = serial.Serial(device.port, timeout=0.05)
    port.reset_input_buffer()
    link = FaultyLink(port, write_faults, read_faults)
    # short timeouts keep the lost frames cheap; the device's own keeps a loaded host from
    # looking like a fault
    reply = max(0.25, device.reply_timeout / 2)
    client = DeviceClient(
        link, byte_rate=device.byte_rate, reply_timeout=reply, invoke_timeout=4 * reply, retries=4
    )
    try:
        client.hello()
        results = list(client.infer_stream(x.tobytes() for x in xs))
    except DeviceTimeout:
        # allowed only when the faults left no way through: a typed error, not a wrong answer
        assert write_faults or read_faults
        return
    finally:
        port.close()
    assert [r.output for r in results] == truth
    if not write_faults and not read_faults and device.name == "twin":
        # no fault, no resend; QEMU, which the host may deschedule for longer than the short
        # timeout, may cost one resend that is harmless (the answers above are still right)
        assert client.counters.resends == 0


def test_silent_device_times_out_with_diagnostics(device):
    port = serial.Serial(device.port, timeout=0.05)
    link = FaultyLink(port, {i: ("lose", 0) for i in range(2, 100)}, {})
    client = DeviceClient(
        link, byte_rate=device.byte_rate, reply_timeout=0.1, invoke_timeout=0.2, retries=2
    )
    client.hello()
    t0 = time.monotonic()
    with pytest.raises(DeviceTimeout, match="after 2 retries") as err:
        client.infer(bytes(client.info.input_bytes))
    took = time.monotonic() - t0
    port.close()
    # the message states the deadline it applied last, figure by figure (the first wait, for
    # the invoking chunk, also had the invoke allowance; the later ones, for INPUT_STATE, not),
    # and the client waited that long at least three times (the first try and two retries)
    m = re.search(r"no reply within ([\d.]+)s \(reply timeout 0\.10s \+ wire time [\d.]+s at "
                  r"\d+ B/s( \+ invoke allowance 0\.20s)?\)", str(err.value))
    assert m, str(err.value)
    assert 3 * float(m.group(1)) <= took + 0.05
    assert took < 3 * float(m.group(1)) + 2.0
