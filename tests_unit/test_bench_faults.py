"""The fault bench, small: every fault kind through the twin, no wrong answer accepted, no
hang, every vector answered in the end. The full run is ``python -m harness.bench.faults``
(docs/benchmarks.md); the damaging link is checked on its own here too."""

from __future__ import annotations

import numpy as np
import pytest

from harness.bench import faults
from harness.bench.fault_link import BYTE_FAULTS, EVENT_FAULTS, FaultyLink
from harness.tflite.model import TfliteModel
from harness.tflite.synthetic import compute_model


class Loopback:
    """A port that hands back what was written (what FaultyLink wraps)."""

    timeout = 0.01

    def __init__(self) -> None:
        self.buf = b""

    @property
    def in_waiting(self) -> int:
        return len(self.buf)

    def write(self, data: bytes) -> int:
        self.buf += data
        return len(data)

    def read(self, size: int = 1) -> bytes:
        out, self.buf = self.buf[:size], self.buf[size:]
        return out


@pytest.mark.parametrize("fault", BYTE_FAULTS)
def test_the_link_damages_bytes_at_about_its_rate(fault):
    link = FaultyLink(Loopback(), fault, 0.01, seed=3)  # type: ignore[arg-type]
    data = bytes(range(1, 256)) * 40  # 10,200 bytes, no zero
    link.write(data)
    got = link.read(10**6)
    assert 120 <= link.injected <= 300  # ~200 expected: 1 % of 10,200 bytes, each way
    assert got != data
    if fault == "drop":
        assert len(got) < len(data)
    elif fault in ("duplicate", "garbage"):
        assert len(got) > len(data)
    else:
        assert len(got) == len(data)


def test_a_vanished_port_fails_like_an_unplugged_board():
    import serial

    link = FaultyLink(Loopback(), "vanish", 1.0)  # type: ignore[arg-type]
    assert link.before_vector() == "vanish"
    with pytest.raises(serial.SerialException):
        link.write(b"x")


def test_every_fault_kind_accepts_no_wrong_answer_and_never_hangs():
    figures = faults.run(
        faults=BYTE_FAULTS + EVENT_FAULTS, sizes=(64,), vectors=6, board="nano33", seed=1,
        event_rate=0.5, byte_rate_override={f: 3e-3 for f in BYTE_FAULTS},
    )
    assert figures["ok"] and figures["wrong_accepted"] == 0 and figures["hangs"] == 0
    cases = {c["fault"]: c for c in figures["cases"]}
    assert set(cases) == set(BYTE_FAULTS + EVENT_FAULTS)
    for c in cases.values():
        assert c["sent"] == 6 and c["accepted"] == 6, c  # recovered every time
        assert c["success_rate"] == 1.0
    # the faults happened: events struck, bytes were damaged and frames sent again
    assert all(cases[f]["injected"] > 0 for f in BYTE_FAULTS + EVENT_FAULTS)
    assert cases["reboot"]["failures"] > 0 and cases["vanish"]["failures"] > 0


def test_the_overlap_model_has_a_27_kib_input_and_real_compute():
    model = TfliteModel(compute_model())
    assert model.inputs[0].nbytes == 27648
    assert [op.name for op in model.ops] == ["FULLY_CONNECTED", "FULLY_CONNECTED"]
    assert model.outputs[0].shape == (1, 10) and model.outputs[0].dtype == np.int8
