"""``tflm-hil mlperf``: MLPerf Tiny datasets as tflm-hil test vectors.

``tflm-hil mlperf vectors DATASET --model M.tflite -o V.npz`` reads a dataset folder as the
MLPerf Tiny runner does (``y_labels.csv`` and the files beside it, each cut in windows) and
writes the input tensors the reference DUT would infer on (the benchmark's conversion), with
the labels, so that ``pytest --vectors V.npz --reference FLOAT`` judges any board (or an
MLPerf DUT, ``--board=mlperf:PORT``) on the same slice the runner scores.
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import numpy as np

from .. import atomic
from ..errors import ConfigError
from ..protocol.mlperf_benchmarks import identify, read_dataset
from ..tflite.model import TfliteModel


def dataset_vectors(
    folder: Path, model: TfliteModel, benchmark: str | None, limit: int | None
) -> dict[str, np.ndarray]:
    bench = identify(model, benchmark)
    if bench is None:
        raise ConfigError(
            f"{Path(model.source).name} is not a published MLPerf Tiny model: pass "
            "--mlperf-model ic01|kws01|vww01|ad01"
        )
    samples = read_dataset(folder)[:limit]
    if not samples:
        raise ConfigError(f"{folder}/y_labels.csv lists no file")
    t = model.inputs[0]
    xs, floats, labels = [], [], []
    for s in samples:
        for w in s.windows:
            if len(w) != bench.sample_bytes:
                raise ConfigError(
                    f"{s.file}: windows of {len(w)} bytes, {bench.id} samples are "
                    f"{bench.sample_bytes}: check bytes_to_send in y_labels.csv"
                )
            xs.append(bench.to_tensor(w, t).reshape(t.shape[1:] if t.shape[0] == 1 else t.shape))
            if bench.wire == "float32":
                floats.append(np.frombuffer(w, "<f4").reshape(xs[-1].shape))
            labels.append(s.label)
    out = {"x": np.stack(xs)}
    if bench.wire == "float32":  # the float model takes the window itself; labels are
        out["x_float"] = np.stack(floats)  # normal/anomalous per file, not classes
    else:
        out["labels"] = np.array(labels, dtype=np.int64)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="tflm-hil mlperf", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)
    v = sub.add_parser("vectors", help="an MLPerf Tiny dataset folder as a .npz of vectors")
    v.add_argument("dataset", type=Path, help="folder with y_labels.csv (e.g. .../kws01)")
    v.add_argument("--model", required=True, type=Path, help="the int8 .tflite")
    v.add_argument("--mlperf-model", metavar="ID", help="benchmark id, if not a published model")
    v.add_argument("--limit", type=int, help="the first N files only")
    v.add_argument("-o", "--out", required=True, type=Path, help="the .npz to write")
    args = ap.parse_args(argv)
    if not args.model.is_file():
        raise ConfigError(f"the model file {args.model} does not exist: check --model")
    arrays = dataset_vectors(
        args.dataset, TfliteModel.load(args.model), args.mlperf_model, args.limit
    )
    buf = io.BytesIO()
    np.savez(buf, **arrays)  # type: ignore[arg-type]
    atomic.write_bytes(args.out, buf.getvalue())
    print(f"{args.out}: {len(arrays['x'])} vectors ({', '.join(arrays)})")
    return 0
