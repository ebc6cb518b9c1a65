"""A runtime's outputs against the reference runtime's, for the same model and vectors.

The HIL suite proves the twin matches the runtime installed beside it; this proves that
runtime matches the reference one. Old runtimes that silently compute differently (per-channel
FULLY_CONNECTED read with one scale) pass the first and fail the second.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

SUFFIX = "_vs_reference_runtime"


def save_outputs(path: Path, outputs: list[np.ndarray]) -> None:
    """A runtime's outputs (one (N, ...) array per output tensor) as ``out0``, ``out1``..."""
    np.savez(path, **{f"out{k}": o for k, o in enumerate(outputs)})  # type: ignore[arg-type]


def load_outputs(path: Path) -> list[np.ndarray]:
    with np.load(path, allow_pickle=False) as data:
        return [data[f"out{k}"] for k in range(len(data.files))]


def compare_outputs(outputs: list[np.ndarray], golden: list[np.ndarray]) -> dict[str, float]:
    """Figures: vectors differing in any output, the largest difference (in quantisation steps
    for integer outputs, absolute for float ones), and top-1 agreement on output 0."""
    if len(outputs) != len(golden):
        raise ValueError(f"{len(outputs)} outputs against {len(golden)} reference outputs")
    n = int(golden[0].shape[0])
    differing = np.zeros(n, dtype=bool)
    largest = 0.0
    for out, ref in zip(outputs, golden, strict=True):
        if out.shape != ref.shape:
            raise ValueError(f"output shape {out.shape} against reference {ref.shape}")
        a = out.reshape(n, -1).astype(np.float64)
        b = ref.reshape(n, -1).astype(np.float64)
        diff = np.abs(a - b)
        differing |= np.any(diff > 0, axis=1)
        largest = max(largest, float(diff.max(initial=0.0)))
    top1 = np.mean(
        outputs[0].reshape(n, -1).argmax(axis=1) == golden[0].reshape(n, -1).argmax(axis=1)
    )
    return {
        "vectors_differing" + SUFFIX: float(differing.sum()),
        "max_error_steps" + SUFFIX: largest,
        "top1_agreement" + SUFFIX: float(top1),
        "vectors" + SUFFIX: float(n),
    }
