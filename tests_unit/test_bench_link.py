"""The link benchmark, small: both protocols side by side on the paced 115200-baud twins.

No timing assertion (these machines are noisy): the test checks that both sides give the
TFLM host runtime's answers and that the figures are produced; pytest-benchmark records the
run time and the measured ratio and efficiency in its JSON (``--benchmark-json``).
The full run is ``python -m harness.bench.link`` (docs/benchmarks.md).
"""

from __future__ import annotations

import numpy as np
from tflite_micro.python.tflite_micro import runtime

from harness.bench.link import compare
from harness.tflite.model import TfliteModel
from harness.tflite.synthetic import fc_model


def test_fc_model_is_valid_deterministic_and_computes_a_fully_connected_layer() -> None:
    data = fc_model(256, 4, seed=1)
    assert data == fc_model(256, 4, seed=1)
    model = TfliteModel(data)
    assert [op.name for op in model.ops] == ["FULLY_CONNECTED"]
    (inp,), (out,) = model.inputs, model.outputs
    assert inp.shape == (1, 256) and out.shape == (1, 4)
    assert inp.dtype == out.dtype == np.int8
    # The same layer in numpy (weights and bias drawn as fc_model draws them) agrees to
    # within one step (TFLM requantizes with a fixed-point multiplier, not a float division).
    rng = np.random.default_rng(1)
    w = rng.integers(-127, 128, size=(4, 256), dtype=np.int8).astype(np.int64)
    b = rng.integers(-2000, 2000, size=(4,), dtype=np.int32)
    interp = runtime.Interpreter.from_bytes(data, arena_size=16 * 1024)
    x = np.random.default_rng(2).integers(-128, 128, size=(1, 256), dtype=np.int8)
    interp.set_input(x, 0)
    interp.invoke()
    acc = w @ (x[0].astype(np.int64) - inp.zero_point) + b
    want = np.clip(np.round(acc * inp.scale / 127 / out.scale) + out.zero_point, -128, 127)
    assert np.abs(interp.get_output(0)[0].astype(np.int64) - want).max() <= 1


def test_side_by_side_comparison_verifies_both_protocols(benchmark) -> None:
    figures = benchmark.pedantic(compare, kwargs={"vectors": 4, "rounds": 1},
                                 rounds=1, iterations=1)
    benchmark.extra_info.update(
        {k: figures[k] for k in ("vectors_per_s", "peer_vectors_per_s", "ratio_vs_mlperf",
                                 "link_efficiency", "peer_link_efficiency")}
    )
    assert figures["verified_bit_exact"], (figures["ours"], figures["peer"])
    assert figures["ours"]["mismatches"] == figures["peer"]["mismatches"] == 0
    assert figures["setup"]["baud"] == 115200 and figures["setup"]["vector_bytes"] == 1024
    assert figures["setup"]["vectors_timed_per_side"] == 4
    # The wire bytes are protocol facts, not timings: ours sends the payload with framing,
    # the peer sends two hex digits per byte plus a command per 31 bytes.
    assert 1024 < figures["ours"]["wire_bytes_up_per_vector"] < 1024 * 1.1
    assert figures["peer"]["wire_bytes_up_per_vector"] > 2 * 1024
    assert figures["vectors_per_s"] > 0 and figures["peer_vectors_per_s"] > 0
