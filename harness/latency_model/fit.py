"""Least-squares fits of the cost model's constants (the command that reproduces them is
``python -m harness.bench.fidelity fit``; docs/latency.md).

Both fits minimise *relative* errors: a layer of 500 instructions matters as much as one of
5 million, and a 0.2 ms model as much as a 650 ms one. numpy has no non-negative least squares
(scipy is not a dependency), so a small active-set loop drops a coefficient that comes out
negative and solves again: a count or a CPI below zero has no meaning.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .layers import Layer

# The quantities each family's instruction count is fitted on, besides its constant per call.
FEATURES: dict[str, tuple[str, ...]] = {
    "conv": ("per_op", "per_mac", "per_output", "per_patch"),
    "conv_1x1": ("per_op", "per_mac", "per_output"),
    "depthwise": ("per_op", "per_mac", "per_output"),
    "depthwise_multiplier": ("per_op", "per_mac", "per_output"),
    "fully_connected": ("per_op", "per_mac", "per_output"),
    "pool": ("per_op", "per_input", "per_output"),
    "softmax": ("per_op", "per_output"),
    "reduce": ("per_op", "per_input"),
    "elementwise": ("per_op", "per_output"),
    "reshape": ("per_op", "per_output"),
}
# The CPI groups: what the interpreter spends around kernels, and what kernels spend on data.
GROUPS = ("compute", "overhead")


def nonnegative_lstsq(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """x >= 0 minimising |a x - b|: solve, drop the columns that came out negative, repeat."""
    active = np.ones(a.shape[1], dtype=bool)
    x = np.zeros(a.shape[1])
    while active.any():
        sol, *_ = np.linalg.lstsq(a[:, active], b, rcond=None)
        if (sol >= 0).all():
            x[active] = sol
            return x
        idx = np.flatnonzero(active)
        active[idx[np.argmin(sol)]] = False
    return x


def fit_family(samples: Sequence[tuple[Layer, int]], features: Sequence[str]) -> dict[str, float]:
    """Instructions per unit of each feature for one family, from (layer, counted) samples."""
    rows = np.array([[s.features()[f] for f in features] for s, _ in samples], dtype=float)
    counted = np.array([c for _, c in samples], dtype=float)
    weights = 1.0 / np.maximum(counted, 1.0)  # relative error per layer
    coef = nonnegative_lstsq(rows * weights[:, None], counted * weights)
    return {f: float(v) for f, v in zip(features, coef, strict=True)}


def fit_instructions(samples: Sequence[tuple[Layer, int]]) -> dict[str, dict[str, float]]:
    """Every family with samples: its instruction constants."""
    fitted = {}
    for family, features in FEATURES.items():
        mine = [s for s in samples if s[0].family == family]
        if mine:
            fitted[family] = fit_family(mine, features)
    return fitted


@dataclass(frozen=True)
class CpiRow:
    """One published pair, as the CPI fit sees it: instructions by group, cycles published."""

    name: str
    instructions: dict[str, float]  # per group
    cycles: float


@dataclass(frozen=True)
class CpiFit:
    cpi: dict[str, float]  # per group; absent: no pair pins it
    rows: int

    def predict(self, instructions: dict[str, float]) -> float | None:
        if any(n > 0 and g not in self.cpi for g, n in instructions.items()):
            return None
        return sum(self.cpi.get(g, 0.0) * n for g, n in instructions.items())


def fit_cpi(rows: Sequence[CpiRow]) -> CpiFit:
    """Cycles per instruction of each group, minimising the relative error of every pair.
    A group is fitted only where the pairs tell it apart from the others (full rank)."""
    groups = [g for g in GROUPS if any(r.instructions.get(g, 0) > 0 for r in rows)]
    a = np.array([[r.instructions.get(g, 0.0) / r.cycles for g in groups] for r in rows])
    if not rows or np.linalg.matrix_rank(a) < len(groups):
        return CpiFit({}, len(rows))
    coef = nonnegative_lstsq(a, np.ones(len(rows)))
    return CpiFit({g: float(v) for g, v in zip(groups, coef, strict=True)}, len(rows))


def leave_one_out(rows: Sequence[CpiRow]) -> dict[str, float | None]:
    """Each pair's predicted cycles by a fit made without it (None: the others do not pin
    every group it needs), keyed by the pair's name."""
    out: dict[str, float | None] = {}
    for i, row in enumerate(rows):
        fit = fit_cpi([r for j, r in enumerate(rows) if j != i])
        out[row.name] = fit.predict(row.instructions)
    return out
