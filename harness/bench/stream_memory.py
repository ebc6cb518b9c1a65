"""Memory of a stream against its vector count: flat, apart from the results.

``python -m harness.bench.stream_memory`` streams N and then 10 x N vectors of a 64-byte
model (10 output bytes) through the simulated twin with ``Dut.infer_vectors`` (what the test
session does) and measures with ``tracemalloc`` the Python memory still held afterwards,
results included. It prints one JSON object: the bytes held per vector beyond the first N
(the slope), the bytes the results themselves take per vector (output bytes, boot id and
cycles), and their difference, which a stream that keeps nothing per vector holds near 0.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import tempfile
import tracemalloc
from pathlib import Path

import numpy as np

from ..boards.catalog import resolve_board
from ..dut import open_dut
from ..sim.driver import SimDriver
from ..tflite.model import TfliteModel
from ..tflite.synthetic import write_fc_model
from ..tflite.vectors import Vectors


def held_after(dut, vectors: Vectors) -> int:
    """Bytes still allocated after streaming ``vectors`` and keeping what it returns."""
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    kept = dut.infer_vectors(vectors)
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del kept
    return after - before


def measure(n: int = 200, input_bytes: int = 64, units: int = 10, board: str = "nano33") -> dict:
    with tempfile.TemporaryDirectory(prefix="tflm-hil-mem-") as tmp:
        model = TfliteModel.load(write_fc_model(Path(tmp) / "fc.tflite", input_bytes, units))
        spec, _ = resolve_board(board)
        driver = SimDriver(spec)
        dut = open_dut(driver, model)
        try:
            rng = np.random.default_rng(0)
            small, large = (
                Vectors((rng.integers(-128, 128, (k, 1, input_bytes), dtype=np.int8),), "random")
                for k in (n, 10 * n)
            )
            held_after(dut, small)  # first use: imports, caches, buffers
            a, b = held_after(dut, small), held_after(dut, large)
        finally:
            dut.close()
            driver.close()
    slope = (b - a) / (9 * n)
    results = units + 8  # output bytes, boot id u32 and cycles u32 per vector
    return {
        "benchmark": "stream memory: Python bytes held per streamed vector",
        "vectors": [n, 10 * n],
        "held_bytes": [a, b],
        "bytes_per_vector": round(slope, 1),
        "result_bytes_per_vector": results,
        "beyond_results_per_vector": round(slope - results, 1),
        "setup": {"board": f"sim:{board}", "input_bytes": input_bytes, "output_bytes": units,
                  "path": "Dut.infer_vectors (the test session's device_run)"},
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m harness.bench.stream_memory", description=__doc__.splitlines()[0]
    )
    ap.add_argument("--vectors", type=int, default=200, help="N: streams N, then 10 x N")
    args = ap.parse_args(argv)
    print(json.dumps(measure(args.vectors), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
