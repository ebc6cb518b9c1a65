"""The one wrapper of the TFLM host runtime (harness/tflite/runtime.py): what every part gets
from it, the twin's backend included."""

from __future__ import annotations

import numpy as np
import pytest

from harness.sim.backend import TflmBackend
from harness.tflite.arena import measure_host_arena
from harness.tflite.model import TfliteModel
from harness.tflite.runtime import HostRejected, HostTflm, version

from .conftest import DIGITS_MODEL


@pytest.fixture(scope="module")
def digits() -> TfliteModel:
    return TfliteModel.load(DIGITS_MODEL)


def test_a_refused_model_carries_tflms_own_words(digits):
    with pytest.raises(HostRejected, match=r"rejected .*digits_int8\.tflite: Failed") as info:
        HostTflm(digits, arena=1024)
    assert info.value.reason.startswith("Failed to allocate")
    assert info.value.log.splitlines()[0].strip() in info.value.reason
    assert info.value.category == "model"
    # the twin's device says the same in its handshake, and measures nothing
    backend = TflmBackend(digits, 1024)
    assert backend.init_error() == info.value.reason and backend.arena_used() == 0


def test_the_arena_measured_is_what_the_twins_backend_reports(digits):
    host = HostTflm(digits)
    assert host.invoke() is None
    used = host.arena_used()
    assert 0 < used < 64 << 10
    assert measure_host_arena(digits) == used == TflmBackend(digits, 64 << 10).arena_used()
    assert measure_host_arena(digits, limit=1024) == 0  # too small: 0, not an error


def test_run_is_one_invoke_per_vector(digits):
    host = HostTflm(digits)
    rng = np.random.default_rng(0)
    shape = digits.inputs[0].shape
    xs = rng.integers(-128, 128, size=(3, *shape), dtype=np.int8)
    together = host.run((xs,))[0]
    for i in range(3):
        host.set_inputs([xs[i]])
        assert host.invoke() is None
        assert np.array_equal(host.output(0), together[i])


def test_version_names_the_installed_wheel():
    assert version().startswith("tflite-micro 0.")
