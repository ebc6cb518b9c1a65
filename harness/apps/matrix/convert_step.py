"""The converter step, run in a converter's environment (its TensorFlow, the reference runtime).

    python -m harness.apps.matrix.convert_step --out DIR --report R.json
        (--keras K.keras --calibration C.npz [--no-per-channel-dense] | --tflite M.tflite)
        [--vectors V.npz]

Writes into DIR: ``model.tflite`` (converted with this TensorFlow, or copied when prebuilt),
``vectors.npz`` (the test vectors, float when the model's own quantisation should apply) and
``golden.npz`` (the installed tflite-micro's outputs for them: the reference every runtime
cell is compared with). The report says how far it got; a converter that aborts (LLVM errors
do) leaves its stage there for the parent to classify.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np

from ...capture import captured_stderr
from ...model.convert import quiet_tensorflow
from .child import Report, reason_lines, stderr_path
from .compare import save_outputs
from .probe import load_inputs, run_runtime, tflm_version

# The plain CPU kernels, as fixtures/digits/regenerate.py uses, so that the reference
# converter reproduces the committed example model.
quiet_tensorflow()


def convert(keras: Path, calibration: Path, per_channel_dense: bool) -> bytes:
    from ...model.convert import convert_int8

    with np.load(calibration) as data:
        samples = data["x"]
    return convert_int8(keras, samples, per_channel_dense=per_channel_dense)


def write_vectors(source: Path | None, out: Path, float_inputs: bool) -> None:
    """For a converted model the float inputs are stored as ``x``, so that each model quantises
    them with its own input parameters; a prebuilt model keeps the file as it is."""
    if source is None:
        return
    if not float_inputs:
        shutil.copyfile(source, out)
        return
    with np.load(source) as data:
        arrays = {k: data[k] for k in data.files}
    if "x_float" in arrays:
        arrays["x"] = arrays["x_float"]
    np.savez_compressed(out, **arrays)


def describe(model_path: Path) -> dict[str, Any]:
    from ...tflite.model import TfliteModel

    m = TfliteModel.load(model_path)
    per_channel = sorted(
        {op.name for op in m.ops if len(op.inputs) > 1 and m.tensors[op.inputs[1]].per_channel}
    )
    return {
        "model_sha256": m.sha256,
        "model_bytes": len(m.data),
        "op_versions": m.op_versions,
        "per_channel_ops": per_channel,
        "inputs": [{"scale": t.scale, "zero_point": t.zero_point} for t in m.inputs],
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m harness.apps.matrix.convert_step")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--report", type=Path, required=True)
    p.add_argument("--keras", type=Path)
    p.add_argument("--calibration", type=Path)
    p.add_argument("--tflite", type=Path)
    p.add_argument("--vectors", type=Path)
    p.add_argument("--no-per-channel-dense", action="store_true")
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    report = Report(args.report)
    model_path = args.out / "model.tflite"
    vectors_path = args.out / "vectors.npz"
    report.stage("import")
    with captured_stderr(stderr_path(report.path)) as log:
        try:
            if args.keras:
                from ...model.convert import versions

                report.update(versions=versions())
        except Exception as exc:  # an unimportable TensorFlow: an install problem
            report.update(error=f"{type(exc).__name__}: {exc}", log=reason_lines(log()))
            return 3
    report.stage("convert")
    with captured_stderr(stderr_path(report.path)) as log:
        try:
            if args.keras:
                model_path.write_bytes(
                    convert(args.keras, args.calibration, not args.no_per_channel_dense)
                )
            else:
                shutil.copyfile(args.tflite, model_path)
        except Exception as exc:
            text = reason_lines(log(), limit=4)
            report.update(error=f"{type(exc).__name__}: {exc}"[:2000], log=text)
            return 4
    write_vectors(args.vectors, vectors_path, float_inputs=args.keras is not None)
    report.update(**describe(model_path))
    # The reference runtime's outputs: computed here, where it is installed, once per model.
    report.update(stage="golden", golden_runtime=tflm_version())
    model, vectors = load_inputs(model_path, vectors_path if vectors_path.is_file() else None)
    try:
        golden = run_runtime(model, vectors.inputs, report)
    except Exception as exc:
        report.update(golden_error=str(exc))
    else:
        save_outputs(args.out / "golden.npz", golden)
    report.update(stage="done", ok=True, vectors=len(vectors))
    return 0


if __name__ == "__main__":
    sys.exit(main())
