"""The overlap bench, small: the 27 KiB model through a twin with staging and one without.

No timing assertion (these machines are noisy): the test checks that both sides give the
TFLM host runtime's answers, that the handshake reports the staging the catalog gives (and
none with the window alone), and that the figures the ratio is made of are the wire's and
the cost model's. pytest-benchmark records the ratio in its JSON (``--benchmark-json``).
The full run is ``python -m harness.bench.overlap`` (docs/benchmarks.md).
"""

from __future__ import annotations

import pytest

from harness.bench import overlap
from harness.boards.catalog import resolve_board


def test_overlap_streams_verified_vectors_with_and_without_staging(benchmark) -> None:
    figures = benchmark.pedantic(overlap.run, kwargs={"vectors": 2}, rounds=1, iterations=1)
    benchmark.extra_info.update({k: figures[k] for k in ("per_vector_s", "ratio_to_max")})
    assert figures["verified_bit_exact"]
    link = resolve_board("nano33")[0].link
    staged, alone = figures["sides"]["staging"], figures["sides"]["no_staging"]
    assert (staged["rx_window"], staged["staging"]) == (link.window, link.staging_bytes)
    assert (alone["rx_window"], alone["staging"]) == (link.rx_window, 0)
    for side in (staged, alone):
        assert side["vectors"] == 2 and side["mismatches"] == 0
        # the wire figure is the bytes put on the link: the input and its framing
        input_s = figures["setup"]["input_bytes"] / link.bytes_per_s
        assert input_s < side["wire_s"] < input_s * 1.05
        assert side["compute_s_estimated"] > 0  # the cost model's cycles at the clock
        bound = max(side["wire_s"], side["compute_s_estimated"])
        assert side["ratio_to_max"] == pytest.approx(side["per_vector_s"] / bound, abs=2e-3)


def test_overlap_refuses_no_vectors() -> None:
    assert overlap.main(["--vectors", "0"]) == 2
