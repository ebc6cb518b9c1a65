"""Property-based vectors: the edges of each input's range, saturation, zeros and noise, each
answered by the device exactly as by the TFLM host runtime."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from harness.tflite.runtime import HostTflm

pytestmark = pytest.mark.hil


def input_strategy(t) -> st.SearchStrategy[np.ndarray]:
    if np.issubdtype(t.dtype, np.integer):
        info = np.iinfo(t.dtype)
        edges: list[float] = [info.min, info.max, int(np.clip(t.zero_point, info.min, info.max))]
        element = st.one_of(st.sampled_from(edges), st.integers(info.min, info.max))
    else:  # float inputs: far beyond any quantised range too, to exercise saturation
        edges = [-1e4, 1e4, 0.0]
        element = st.one_of(st.sampled_from(edges), st.floats(-1e4, 1e4, width=32))
    whole = [st.just(np.full(t.shape, e, dtype=t.dtype)) for e in edges]
    return st.one_of(*whole, arrays(t.dtype, t.shape, elements=element))


def test_property_vectors_match_host(dut, hil_model, pytestconfig, hil_record):
    host = HostTflm(hil_model)
    seen = []

    @settings(
        max_examples=pytestconfig.option.property_examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(st.tuples(*(input_strategy(t) for t in hil_model.inputs)))
    def check(inputs):
        seen.append(1)
        got = dut.infer(*inputs)
        want = host.run(tuple(x[None, ...] for x in inputs))
        for k, (g, w) in enumerate(zip(got, want, strict=True)):
            assert np.array_equal(g.reshape(-1), w[0].reshape(-1)), (
                f"output {k} differs from the TFLM host runtime for input {inputs!r}"
            )

    check()
    hil_record("property_vectors", len(seen))
    assert len(seen) >= min(3, pytestconfig.option.property_examples)
