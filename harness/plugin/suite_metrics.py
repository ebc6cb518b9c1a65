"""The metrics the HIL suite can gate, by name, derived from the code that computes them.

``test_gate`` judges a gate against the validation's metrics (``validate``), the device's memory
figures and its latency figures. The set of names is not kept by hand (it would drift): it is
what those same functions return for a tiny synthetic example that exercises every branch (a
classifier output, labels, a board that reports its stack), so a metric added to them is known
at once, and a gate naming anything else is refused (``load_suite_gates``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..latency import Latency
from ..metrics.compare import versus_float, versus_host, versus_labels
from ..metrics.gates import Gate, load_gates
from ..provenance import Provenance
from ..tflite.model import TensorInfo


def memory_figures(
    arena_used: int, arena_size: int, flash: int, ram: int, stack_used: int | None
) -> dict[str, float]:
    """The device's memory figures as gated and stored (``stack_used_bytes`` only when the
    device measures its stack: boards do, the twin does not)."""
    out = {
        "arena_used_bytes": float(arena_used),
        "arena_size_bytes": float(arena_size),
        "flash_bytes": float(flash),
        "ram_bytes": float(ram),
    }
    if stack_used:
        out["stack_used_bytes"] = float(stack_used)
    return out


def suite_metric_names() -> frozenset[str]:
    """Every metric name ``test_gate`` can see for output 0 (``[k]`` marks output k > 0)."""
    # The example's values do not decide the names, only its kind (a classifier with labels):
    # mutation testing leaves them alone (docs/testing.md).
    scores = TensorInfo(0, "scores", (1, 3), np.dtype(np.int8), 0.1, 0, False)  # pragma: no mutate
    device = np.array([[[1, 2, 3]], [[3, 2, 1]]], dtype=np.int8)  # pragma: no mutate
    labels, reference = np.array([2, 0]), device * 0.1  # pragma: no mutate
    latency = Latency(np.array([1, 2]), 1, Provenance.MEASURED, 0)  # pragma: no mutate
    comparisons = [
        versus_host(device, device, scores, 0),
        versus_float(device, reference, scores, 0, labels),
        versus_labels(device, labels, scores, 0),
    ]
    names = {name for c in comparisons for name in c.named()}
    names |= set(memory_figures(1, 1, 1, 1, stack_used=1))
    names |= set(latency.metrics())
    return frozenset(names)


def load_suite_gates(model: Path | None, explicit: Path | None) -> dict[str, Gate]:
    """The session's gates, each naming a metric the suite measures (else ConfigError)."""
    return load_gates(model, explicit, known=suite_metric_names())
