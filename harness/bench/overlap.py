"""Overlap bench: does vector N+1 upload while vector N computes?

``python -m harness.bench.overlap`` builds a model with a 27,648-byte int8 input (a 96x96x3
image) and real compute (``compute_model``: FULLY_CONNECTED over each of 96 rows, then over
all of them; no TensorFlow), starts a simulated twin of the board twice, once with the
catalog's receive buffer (staging included) and once with the window alone (no staging), and
streams the same vectors through each with ``DeviceClient.infer_stream``, as the test session
does. Every output is checked against the TFLM host runtime.

For each it reports the time per vector against the two things that bound it: the wire (the
bytes put on the link per vector at the link's byte rate) and the compute (the device's
cycles at its clock: estimated by the twin's cost model). With staging the per-vector time
should approach max(wire, compute); without, wire + compute. It prints one JSON object and
exits 1 if a wrong answer was accepted, 0 otherwise (the ratio is a figure, not a verdict:
on a loaded machine the host adds its own delays).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import serial

from ..boards.catalog import resolve_board
from ..errors import HilError
from ..protocol.client import DeviceClient
from ..sim.launcher import start_twin
from ..tflite.model import TfliteModel
from ..tflite.synthetic import write_compute_model
from .link import CountingLink, reference_outputs

TARGET_RATIO = 1.1  # per vector / max(wire, compute), with staging (issue 14)


@dataclass
class Side:
    """One twin's stream: what it took and what bounds it."""

    rx_window: int
    staging: int
    vectors: int = 0
    seconds: float = 0.0
    bytes_up: int = 0
    compute_s: list[float] = field(default_factory=list)  # per vector, estimated
    mismatches: int = 0

    def summary(self, byte_rate: float) -> dict:
        per_vector = self.seconds / self.vectors
        wire = self.bytes_up / self.vectors / byte_rate
        compute = float(np.median(self.compute_s)) if self.compute_s else 0.0
        bound = max(wire, compute)
        return {
            "rx_window": self.rx_window,
            "staging": self.staging,
            "vectors": self.vectors,
            "per_vector_s": round(per_vector, 4),
            "wire_s": round(wire, 4),
            "compute_s_estimated": round(compute, 4),
            "max_wire_compute_s": round(bound, 4),
            "wire_plus_compute_s": round(wire + compute, 4),
            "ratio_to_max": round(per_vector / bound, 3) if bound else None,
            "mismatches": self.mismatches,
        }


def stream(board: str, model_path: Path, xs: list[bytes], refs: list[bytes],
           rx_window: int | None) -> tuple[Side, float]:
    """Streams ``xs`` through a fresh twin, the first untimed; returns its side and the
    link's byte rate. Every answer is checked against ``refs``."""
    twin = start_twin(board, model_path, rx_window=rx_window)
    byte_rate = float(twin.ready["byte_rate"])
    link = CountingLink(serial.Serial(twin.port, timeout=0.1))
    client = DeviceClient(link, byte_rate=byte_rate)
    try:
        info = client.hello()
        side = Side(info.rx_window, info.staging)
        (warm,) = client.infer_stream(xs[:1])  # first-use costs are not the overlap's
        side.mismatches += warm.output != refs[0]
        up0 = link.sent
        t0 = time.perf_counter()
        results = list(client.infer_stream(xs[1:]))
        side.seconds = time.perf_counter() - t0
        side.bytes_up = link.sent - up0
        side.vectors = len(results)
        for res, ref in zip(results, refs[1:], strict=True):
            side.mismatches += res.output != ref
            if res.cycles:
                side.compute_s.append(res.cycles[0] / info.clock_hz)
    finally:
        client.close()
        link.port.close()
        twin.stop()
    return side, byte_rate


def run(*, board: str = "nano33", vectors: int = 11, seed: int = 0) -> dict:
    if vectors < 1:
        raise ValueError("vectors must be >= 1")
    spec, _ = resolve_board(board)
    with tempfile.TemporaryDirectory(prefix="tflm-hil-overlap-") as tmp:
        model_path = write_compute_model(Path(tmp) / "compute.tflite")
        model = TfliteModel.load(model_path)
        size = model.inputs[0].nbytes
        rng = np.random.default_rng(seed)
        arr = rng.integers(-128, 128, size=(vectors + 1, size), dtype=np.int8)
        refs = reference_outputs(model_path, arr)
        xs = [x.tobytes() for x in arr]
        sides = {}
        for label, window in (("staging", None), ("no_staging", spec.link.rx_window)):
            side, byte_rate = stream(board, model_path, xs, refs, window)
            sides[label] = side.summary(byte_rate)
    staged = sides["staging"]
    wrong = sum(s["mismatches"] for s in sides.values())
    return {
        "benchmark": "overlap: upload of vector N+1 during the compute of vector N",
        "per_vector_s": staged["per_vector_s"],
        "ratio_to_max": staged["ratio_to_max"],
        "verified_bit_exact": wrong == 0,
        "targets": {
            "ratio_to_max": TARGET_RATIO,
            "met": wrong == 0 and (staged["ratio_to_max"] or 0) <= TARGET_RATIO,
        },
        "sides": sides,
        "setup": {
            "board": f"sim:{board}",
            "link": f"{spec.link.kind} at {byte_rate:.0f} B/s (paced by the twin)",
            "input_bytes": size,
            "model": f"int8 {list(model.inputs[0].shape)} -> FULLY_CONNECTED per row -> "
            f"FULLY_CONNECTED -> int8 {list(model.outputs[0].shape)}",
            "model_sha256": model.sha256,
            "vectors_timed": vectors,
            "no_staging": "the catalog's rx_window alone (--rx-window): no room for the next"
            " vector",
            "compute": "estimated (twin cost model)",
            "reference": "TFLM host runtime (tflite-micro), bit-exact",
        },
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m harness.bench.overlap", description=__doc__.splitlines()[0]
    )
    ap.add_argument("--vectors", type=int, default=11, help="vectors timed per side (default 11)")
    ap.add_argument("--board", default="nano33", help="catalog id of the simulated board")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    try:
        figures = run(board=args.board, vectors=args.vectors, seed=args.seed)
    except (HilError, ValueError) as exc:
        print(f"tflm-hil overlap: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(figures, indent=2))
    return 0 if figures["verified_bit_exact"] else 1


if __name__ == "__main__":
    sys.exit(main())
