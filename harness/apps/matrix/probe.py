"""The probe: a runtime alone, in the cell's environment, before the HIL suite runs.

    python -m harness.apps.matrix.probe --model M.tflite [--vectors V.npz] --report R.json \
        --out O.npz

Imports tflite-micro, creates an interpreter for the model and runs every vector, updating the
report at each stage. What it tells apart: a runtime that cannot be imported (``install``),
one that rejects the model and says why on stderr (``unsupported``), one that dies (the parent
sees the signal and the stage in the report: ``crash``). Its outputs are compared with the
reference runtime's by the cell (harness/apps/matrix/cell.py).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

from ...capture import captured_stderr
from .child import Report, reason_lines, stderr_path
from .compare import save_outputs
from .venvs import installed_version


def load_inputs(model_path: Path, vectors: Path | None):  # -> (TfliteModel, Vectors)
    from ...tflite.model import TfliteModel
    from ...tflite.vectors import generate_vectors, load_vectors

    model = TfliteModel.load(model_path)
    vecs = load_vectors(vectors, model) if vectors else generate_vectors(model)
    return model, vecs


def run_runtime(model, inputs: tuple[np.ndarray, ...], report: Report) -> list[np.ndarray]:
    """Runs every vector on the installed tflite-micro, as the HIL suite's host reference does
    (HostTflm), one vector at a time so that a failure names its vector; raises with TFLM's
    reason."""
    from ...errors import ModelRejected
    from ...tflite.runtime import HostRejected, HostTflm

    report.stage("create")
    with captured_stderr(stderr_path(report.path)) as log:
        try:
            host = HostTflm(model)
        except Exception as exc:
            if isinstance(exc, HostRejected):  # TFLM's words, which the runtime captured
                os.write(2, exc.log.encode())
            report.update(log=reason_lines(log()))
            # the runtime's own exception, not HostTflm's wrapping of it
            cause = exc.__cause__ if isinstance(exc, ModelRejected) and exc.__cause__ else exc
            raise RuntimeFailure(f"{type(cause).__name__}: {cause}") from exc
    report.stage("invoke")
    per_vector: list[list[np.ndarray]] = []
    with captured_stderr(stderr_path(report.path)) as log:
        for i in range(inputs[0].shape[0]):
            try:
                per_vector.append(host.run(tuple(x[i : i + 1] for x in inputs)))
            except Exception as exc:
                report.update(log=reason_lines(log()), vector=i)
                raise RuntimeFailure(f"vector {i}: {type(exc).__name__}: {exc}") from exc
    return [np.concatenate(outs) for outs in zip(*per_vector, strict=True)]


class RuntimeFailure(Exception):
    pass


def tflm_version() -> str:
    return installed_version("tflite-micro") or "not installed"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m harness.apps.matrix.probe")
    p.add_argument("--model", type=Path, required=True)
    p.add_argument("--vectors", type=Path)
    p.add_argument("--report", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args(argv)
    report = Report(args.report)
    report.update(stage="import", tflm_version=tflm_version(), python=sys.version.split()[0])
    with captured_stderr(stderr_path(report.path)) as log:
        try:
            from tflite_micro.python.tflite_micro import runtime  # noqa: F401

            model, vectors = load_inputs(args.model, args.vectors)
        except Exception as exc:  # ImportError, a numpy ABI SystemError, a missing symbol...
            report.update(error=f"{type(exc).__name__}: {exc}", log=reason_lines(log()))
            return 3
    report.update(numpy=np.__version__, vectors=len(vectors))
    try:
        outputs = run_runtime(model, vectors.inputs, report)
    except RuntimeFailure as exc:
        # A numpy ABI mismatch surfaces here too, when the extension first sees an array: its
        # message in the log tells the classifier it is an install problem, not the model.
        report.update(error=str(exc))
        return 4
    save_outputs(args.out, outputs)
    report.update(stage="done", ok=True, outputs=len(outputs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
