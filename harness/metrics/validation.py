"""All comparisons of a run's device outputs: against the host runtime, the float model, labels."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..tflite.model import TfliteModel
from ..tflite.vectors import Vectors
from .compare import OutputComparison, versus_float, versus_host, versus_labels


@dataclass(frozen=True)
class OutputComparisons:
    comparisons: tuple[OutputComparison, ...]

    @property
    def metrics(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for c in self.comparisons:
            out.update(c.named())
        return out

    def find(self, reference: str, output: int = 0) -> OutputComparison | None:
        return next(
            (c for c in self.comparisons if c.reference == reference and c.output == output), None
        )


def validate(
    model: TfliteModel,
    vectors: Vectors,
    device: list[np.ndarray],
    host: list[np.ndarray],
    floats: list[np.ndarray] | None,
) -> OutputComparisons:
    comps: list[OutputComparison] = []
    for k, t in enumerate(model.outputs):
        comps.append(versus_host(device[k], host[k], t, k))
        if floats is not None:
            comps.append(
                versus_float(device[k], floats[k], t, k, vectors.labels if k == 0 else None)
            )
        if vectors.labels is not None and k == 0:
            comps.append(versus_labels(device[k], vectors.labels, t, k))
    return OutputComparisons(tuple(comps))
