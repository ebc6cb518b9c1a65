"""Link benchmark: our protocol against MLPerf Tiny's text protocol, side by side.

``python -m harness.bench.link`` builds an int8 model with a 1 KiB input (no TensorFlow),
starts two simulated twins from the same core build and the same image, one serving our
protocol and one MLPerf Tiny's, both on a UART paced at the same baud rate (115200 8N1 =
11520 B/s each way), and streams the same vectors through each in alternating rounds:
ours with ``DeviceClient.infer_stream`` (chunks pipelined under the device's receive
window), the peer as the MLPerf runner does it (``db load``, 31-byte hex lines each waiting
for ``m-ready``, ``infer 1 0``). Every output is checked against the TFLM host runtime on
both sides; a benchmark of wrong answers is reported as a failure (exit status 1).

It prints one JSON object: throughput of each side, their ratio, link efficiency (input
payload bytes per second over the link's byte rate), the bytes each side put on the wire
per vector, and the setup. Device latencies come from the twin's cost model: estimated.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import serial

from ..protocol.client import DeviceClient
from ..protocol.mlperf import DEFAULT_BAUD, LINE_BYTES, MlperfPeer, requantize
from ..sim.build import source_hash
from ..sim.launcher import TwinProcess, start_twin
from ..tflite.model import TfliteModel
from ..tflite.runtime import HostTflm
from ..tflite.synthetic import write_fc_model

TARGET_RATIO = 2.0
TARGET_EFFICIENCY = 0.90


class CountingLink:
    """A pyserial port that counts the bytes each way (the Link interface of the clients)."""

    def __init__(self, port: serial.Serial):
        self.port = port
        self.sent = 0
        self.received = 0

    @property
    def timeout(self) -> float | None:
        return self.port.timeout

    @timeout.setter
    def timeout(self, value: float | None) -> None:
        self.port.timeout = value

    @property
    def in_waiting(self) -> int:
        return int(self.port.in_waiting)

    def write(self, data: bytes, /) -> int | None:
        self.sent += len(data)
        return self.port.write(data)

    def read(self, size: int = 1, /) -> bytes:
        data = self.port.read(size)
        self.received += len(data)
        return bytes(data)


@dataclass
class SideStats:
    """One protocol's totals over every timed round."""

    vectors: int = 0
    seconds: float = 0.0
    bytes_up: int = 0
    bytes_down: int = 0
    mismatches: int = 0
    latency_us_estimated: list[float] = field(default_factory=list)

    def summary(self, vector_bytes: int, byte_rate: float) -> dict:
        vps = self.vectors / self.seconds if self.seconds else 0.0
        up = self.bytes_up / self.vectors if self.vectors else 0.0
        return {
            "vectors_per_s": round(vps, 3),
            "seconds": round(self.seconds, 3),
            "link_efficiency": round(vps * vector_bytes / byte_rate, 4),
            "wire_bytes_up_per_vector": round(up, 1),
            "wire_bytes_down_per_vector": round(self.bytes_down / self.vectors, 1)
            if self.vectors
            else 0.0,
            # what the upstream wire alone allows; the rest is round trips and device time
            "wire_bound_vectors_per_s": round(byte_rate / up, 3) if up else None,
            "mismatches": self.mismatches,
            "device_latency_us_estimated": round(float(np.median(self.latency_us_estimated)), 1)
            if self.latency_us_estimated
            else None,
        }


def reference_outputs(model_path: Path, vectors: np.ndarray) -> list[bytes]:
    """The TFLM host runtime's outputs: the bit-exact reference for both sides."""
    model = TfliteModel.load(model_path)
    n = len(vectors)
    outs = HostTflm(model, 256 * 1024).run((vectors.reshape((n, *model.inputs[0].shape)),))
    return [b"".join(np.ascontiguousarray(o[i]).tobytes() for o in outs) for i in range(n)]


def _open(twin: TwinProcess, baud: int) -> CountingLink:
    return CountingLink(serial.Serial(twin.port, baud, timeout=0.1))


def run_ours(
    client: DeviceClient,
    link: CountingLink,
    vectors: Sequence[bytes],
    refs: Sequence[bytes],
    stats: SideStats,
    clock_hz: int,
) -> None:
    up0, down0 = link.sent, link.received
    t0 = time.perf_counter()
    results = list(client.infer_stream(vectors))
    stats.seconds += time.perf_counter() - t0
    stats.vectors += len(vectors)
    stats.bytes_up += link.sent - up0
    stats.bytes_down += link.received - down0
    for res, ref in zip(results, refs, strict=True):
        stats.mismatches += res.output != ref
        if res.cycles:
            stats.latency_us_estimated.append(res.cycles[0] / clock_hz * 1e6)


def run_peer(
    peer: MlperfPeer,
    link: CountingLink,
    vectors: Sequence[bytes],
    refs: Sequence[bytes],
    stats: SideStats,
    outputs: Sequence,
) -> None:
    up0, down0 = link.sent, link.received
    t0 = time.perf_counter()
    results = [peer.infer_vector(v) for v in vectors]
    stats.seconds += time.perf_counter() - t0
    stats.vectors += len(vectors)
    stats.bytes_up += link.sent - up0
    stats.bytes_down += link.received - down0
    for res, ref in zip(results, refs, strict=True):
        try:
            stats.mismatches += requantize(res.results, outputs) != ref
        except ValueError:
            stats.mismatches += 1
        stats.latency_us_estimated.append(res.latency_us)


def compare(
    *,
    vectors: int = 32,
    rounds: int = 2,
    baud: int = DEFAULT_BAUD,
    board: str = "nano33",
    vector_bytes: int = 1024,
    units: int = 10,
    seed: int = 0,
    line_bytes: int = LINE_BYTES,
    rx_window: int | None = None,
    workdir: Path | None = None,
) -> dict:
    """Runs the side-by-side comparison and returns the figures (see the module docstring)."""
    if vectors < 1 or rounds < 1:
        raise ValueError("vectors and rounds must be >= 1")
    byte_rate = baud / 10  # UART 8N1: ten bit times per byte
    with tempfile.TemporaryDirectory(prefix="tflm-hil-bench-") as tmp:
        model_path = write_fc_model(
            Path(workdir or tmp) / f"fc{vector_bytes}.tflite", vector_bytes, units, seed
        )
        model = TfliteModel.load(model_path)
        rng = np.random.default_rng(seed)
        xs = rng.integers(-128, 128, size=(vectors, vector_bytes), dtype=np.int8)
        data = [x.tobytes() for x in xs]
        refs = reference_outputs(model_path, xs)
        warm = rng.integers(-128, 128, size=(1, vector_bytes), dtype=np.int8)
        warm_ref = reference_outputs(model_path, warm)

        ours_twin = start_twin(board, model_path, baud=baud, rx_window=rx_window)
        peer_twin = start_twin(board, model_path, baud=baud, rx_window=rx_window, protocol="mlperf")
        ours_link = _open(ours_twin, baud)
        peer_link = _open(peer_twin, baud)
        client = DeviceClient(ours_link, byte_rate=byte_rate)
        peer = MlperfPeer(peer_link, byte_rate=byte_rate, line_bytes=line_bytes)
        try:
            info = client.hello()
            # Not wait_ready: the twin may send its boot banner before the port is opened,
            # and opening drops it (seen under load); sync puts both sides in step either way.
            peer.sync()
            peer_name, peer_profile = peer.name(), peer.profile()
            # One untimed vector each: first-use costs are not the link's.
            ours_warm, peer_warm = SideStats(), SideStats()
            run_ours(client, ours_link, [warm.tobytes()], warm_ref, ours_warm, info.clock_hz)
            run_peer(peer, peer_link, [warm.tobytes()], warm_ref, peer_warm, model.outputs)
            ours, theirs = SideStats(), SideStats()
            ours.mismatches += ours_warm.mismatches
            theirs.mismatches += peer_warm.mismatches
            for _ in range(rounds):  # alternating, so drift on a noisy host hits both sides
                run_ours(client, ours_link, data, refs, ours, info.clock_hz)
                run_peer(peer, peer_link, data, refs, theirs, model.outputs)
            chunk = client.plan.chunk
        finally:
            client.close()
            peer.close()
            ours_link.port.close()
            peer_link.port.close()
            ours_twin.stop()
            peer_twin.stop()

    ours_sum = ours.summary(vector_bytes, byte_rate)
    peer_sum = theirs.summary(vector_bytes, byte_rate)
    peer_vps = peer_sum["vectors_per_s"]
    ratio = ours_sum["vectors_per_s"] / peer_vps if peer_vps else 0.0
    verified = ours.mismatches == 0 and theirs.mismatches == 0
    return {
        "benchmark": "link: tflm-hil protocol vs MLPerf Tiny text protocol",
        "vectors_per_s": ours_sum["vectors_per_s"],
        "peer_vectors_per_s": peer_sum["vectors_per_s"],
        "ratio_vs_mlperf": round(ratio, 3),
        "link_efficiency": ours_sum["link_efficiency"],
        "peer_link_efficiency": peer_sum["link_efficiency"],
        "verified_bit_exact": verified,
        "targets": {
            "ratio_vs_mlperf": TARGET_RATIO,
            "link_efficiency": TARGET_EFFICIENCY,
            "met": verified
            and ratio >= TARGET_RATIO
            and ours_sum["link_efficiency"] >= TARGET_EFFICIENCY,
        },
        "ours": ours_sum,
        "peer": {"protocol": "mlperf-tiny", "name": peer_name, **peer_profile, **peer_sum},
        "setup": {
            "board": f"sim:{board}",
            "link": f"UART {baud} 8N1 (paced by the twin)",
            "baud": baud,
            "byte_rate": byte_rate,
            "vector_bytes": vector_bytes,
            "vectors": vectors,
            "rounds": rounds,
            "vectors_timed_per_side": vectors * rounds,
            "model": f"int8 [1,{vector_bytes}] -> FULLY_CONNECTED -> int8 [1,{units}]",
            "model_sha256": model.sha256,
            "core_source_hash": source_hash()[:16],
            "rx_window": info.rx_window,
            "chunk_payload": chunk,
            "peer_line_bytes": line_bytes,
            "reference": "TFLM host runtime (tflite-micro), bit-exact",
            "durations_s": {"ours": ours_sum["seconds"], "peer": peer_sum["seconds"]},
            "latency": "estimated (twin cost model)",
        },
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m harness.bench.link",
        description=__doc__.splitlines()[0] if __doc__ else None,
    )
    ap.add_argument("--vectors", type=int, default=32, help="vectors per round (default 32)")
    ap.add_argument("--rounds", type=int, default=2, help="alternating rounds (default 2)")
    ap.add_argument("--baud", type=int, default=DEFAULT_BAUD, help="UART baud rate, 8N1")
    ap.add_argument("--board", default="nano33", help="catalog id of the simulated board")
    ap.add_argument("--vector-bytes", type=int, default=1024, help="int8 input size")
    ap.add_argument(
        "--line-bytes",
        type=int,
        default=LINE_BYTES,
        help="bytes per MLPerf 'db' hex line (runner: 31)",
    )
    ap.add_argument("--rx-window", type=int, help="device receive buffer (default: catalog)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    figures = compare(
        vectors=args.vectors,
        rounds=args.rounds,
        baud=args.baud,
        board=args.board,
        vector_bytes=args.vector_bytes,
        line_bytes=args.line_bytes,
        rx_window=args.rx_window,
        seed=args.seed,
    )
    print(json.dumps(figures, indent=2))
    return 0 if figures["verified_bit_exact"] else 1


if __name__ == "__main__":
    sys.exit(main())
