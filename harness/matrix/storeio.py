"""Cell results in the results store (harness/results/store.py), beside the HIL runs.

A cell is recorded as a run whose ``labels`` hold ``matrix_cell`` (its id) and
``matrix_result`` (the whole result), with its figures as metrics, so that history queries
see the matrix and ``tflm-hil matrix report --db`` can fold it back into a grid.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..provenance import Provenance
from ..results.store import ResultsStore
from .result import CellResult


def record(db: Path, result: CellResult) -> int:
    store = ResultsStore(db)
    try:
        run_id = store.start_run(
            board=result.axes.get("board", "sim:nano33") if result.kind == "hw" else "sim:nano33",
            simulated=result.kind == "sim",
            model_path=result.model,
            model_hash=str(result.details.get("convert", {}).get("model_sha256", "")),
            labels={
                "matrix_cell": result.cell_id,
                "matrix_status": result.status,
                "matrix_result": json.dumps(result.to_json(), sort_keys=True),
            },
        )
        for name, value in result.figures.items():
            label = result.provenance.get(name, Provenance.MEASURED)
            store.add_metric(run_id, name, value, provenance=Provenance(label))
        store.finish_run(run_id, 0 if result.status == "pass" else 1)
        return run_id
    finally:
        store.close()


def results_from_store(db: Path) -> list[CellResult]:
    store = ResultsStore(db)
    try:
        out = []
        for run in store.runs():
            try:
                labels = json.loads(run["labels"] or "{}")
                text = labels.get("matrix_result")
                if text:
                    out.append(CellResult.from_json(json.loads(text)))
            except (ValueError, TypeError):
                continue  # a run of the HIL suite, not of the matrix
        return out
    finally:
        store.close()
