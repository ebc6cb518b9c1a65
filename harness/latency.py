"""On-device latency: cycle counts from the device's counter, as statistics and as a
pytest-benchmark timer, so ``--benchmark-compare-fail`` can gate latency across runs."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .dut import Dut
from .provenance import Provenance

SAMPLES_PER_INVOKE = 32  # HIL_MAX_SAMPLES: cycle counts one RESULT carries


class DeviceClock:
    """A pytest-benchmark timer that reads device time, not host time.

    pytest-benchmark calls the timer around each round; the round's target advances this
    clock by one recorded device run, so its statistics are those of the device's runs.
    """

    def __init__(self) -> None:
        self.seconds = 0.0

    def __call__(self) -> float:
        return self.seconds

    def advance(self, seconds: float) -> None:
        self.seconds += seconds


DEVICE_CLOCK = DeviceClock()


@dataclass(frozen=True)
class Latency:
    cycles: np.ndarray
    clock_hz: int
    provenance: Provenance
    warmup: int

    @property
    def seconds(self) -> np.ndarray:
        return self.cycles / float(self.clock_hz)

    def metrics(self) -> dict[str, float]:
        c = self.cycles.astype(np.float64)
        us = c * 1e6 / self.clock_hz
        median = float(np.median(c))
        out = {"latency_runs": float(len(c))}
        for name, fn in (("min", np.min), ("median", np.median), ("max", np.max)):
            out[f"latency_cycles_{name}"] = float(fn(c))
            out[f"latency_us_{name}"] = float(fn(us))
        out["latency_cycles_p95"] = float(np.percentile(c, 95))
        out["latency_us_p95"] = float(np.percentile(us, 95))
        out["latency_spread"] = float((np.percentile(c, 95) - c.min()) / median) if median else 0.0
        return out


def measure_latency(dut: Dut, payload: bytes, runs: int, warmup: int) -> Latency:
    """Times ``runs`` inferences after ``warmup`` untimed ones, 32 per request."""
    cycles: list[int] = []
    first = True
    while len(cycles) < runs:
        n = min(SAMPLES_PER_INVOKE, runs - len(cycles))
        result = dut.benchmark(payload, runs=n, warmup=warmup if first else 0)
        cycles += result.cycles
        first = False
    info = dut.info
    return Latency(np.array(cycles, dtype=np.int64), info.clock_hz, info.provenance, warmup)
