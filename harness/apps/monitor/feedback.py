"""Field accuracy from labelled feedback: a CSV of raw inputs with their true labels.

Each model version's own recorded preprocessing turns the raw inputs into its inputs (the
same record it was trained and validated with), the int8 model runs on the TFLM host
runtime (bit-exact with the device), and its answers are scored against the labels. With
a ``model`` column (the version that ran in the field, a hash prefix) each row is scored
with that version; without it every registered version whose inputs fit is scored.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ... import atomic
from ...errors import ConfigError
from ...tflite.model import TfliteModel
from ...tflite.quant import quantize
from ...tflite.runtime import HostTflm
from ..pipeline.dataset import Dataset, read_csv
from ..pipeline.preprocess import Preprocessing
from ..registry.store import ModelEntry, Registry


@dataclass(frozen=True)
class FieldResult:
    model: str
    rows: int
    correct: int
    note: str = ""

    @property
    def accuracy(self) -> float:
        return self.correct / self.rows if self.rows else 0.0


def score(registry: Registry, entry: ModelEntry, data: Dataset, source: str) -> FieldResult:
    pre = entry.files.get("preprocess")
    if pre is None:
        raise ConfigError(f"model {entry.short} has no preprocessing record in the registry: "
                          "field inputs cannot be prepared for it")
    prep = Preprocessing.from_dict(json.loads(registry.blob(pre.sha256)), f"{entry.short} record")
    prep.check(data, source)
    model = TfliteModel(registry.blob(entry.sha256), entry.short)
    tin = model.inputs[0]
    x = prep.transform(data.x).reshape((len(data), *tin.shape))
    out = HostTflm(model).run((quantize(x, tin),))[0]
    pred = out.reshape(len(data), -1).argmax(axis=1)
    truth = data.label_indices(prep.classes)
    return FieldResult(entry.sha256, len(data), int(np.sum(pred == truth)))


def field_accuracy(registry: Registry, csv: Path) -> list[FieldResult]:
    data = read_csv(csv, flag="--feedback")
    digest = atomic.sha256_file(csv)
    results: list[FieldResult] = []
    if data.model is not None:
        versions: dict[str, list[int]] = {}
        for i, m in enumerate(data.model):
            if not m:
                raise ConfigError(f"{csv} row {i + 2} has an empty 'model': name the version "
                                  "(a hash prefix) or drop the column to score every version")
            versions.setdefault(m, []).append(i)
        for ref, rows in versions.items():
            entry = registry.get(ref)
            results.append(score(registry, entry, data.take(np.array(rows)), str(csv)))
    else:
        for entry in registry.entries():
            try:
                results.append(score(registry, entry, data, str(csv)))
            except ConfigError as exc:  # another task's model: its inputs do not fit
                results.append(FieldResult(entry.sha256, 0, 0, f"not applicable: {exc}"))
        if not any(r.rows for r in results):
            raise ConfigError(f"no registered model takes the inputs of {csv}: check its columns "
                              "against the training data's")
    with registry.locked():
        for r in results:
            if not r.rows:
                continue
            entry = registry.get(r.model)
            entry.field_results.append({"time": time.time(), "file": str(csv), "sha256": digest,
                                        "rows": r.rows, "correct": r.correct,
                                        "accuracy": r.accuracy})
            registry.save(entry)
        registry.log("field feedback", file=str(csv), sha256=digest,
                     results={r.model[:12]: round(r.accuracy, 6) for r in results if r.rows})
    return results
