"""``tflm-hil model convert``: the trained model to a .tflite (full int8, or float).

Calibration uses training rows only, drawn with the seed from the data the model was
trained on (found through the model's stamp; a changed file is refused). Beside the model:
``<name>.preprocess.json``, ``<name>.vectors.npz`` (the held-out rows, preprocessed and
quantised exactly as the device receives them, with their float inputs and labels: what
the HIL suite runs) and the stamp ``<model>.json``. The new model is then registered
(content-addressed) in the model registry with its float reference.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ... import atomic
from ...errors import ConfigError
from ...model.convert import quiet_tensorflow
from ...tflite.model import TfliteModel
from ...tflite.quant import quantize
from .dataset import read_csv
from .preprocess import Preprocessing, preprocess_path
from .stamp import Stamp, package_versions, record_outputs
from .step import StepResult
from .train import MODEL_SUFFIXES, TF_VERSIONS

if TYPE_CHECKING:
    from ...model.reference import FloatReference

MODES = ("int8", "float")


@dataclass(frozen=True)
class ConvertOptions:
    input: Path
    output: Path
    mode: str = "int8"
    seed: int = 1234
    calibration_samples: int = 500
    data: Path | None = None  # the processed CSV (default: the one the model was trained on)
    force: bool = False


def vectors_path(model: str | Path) -> Path:
    p = Path(model)
    return p.with_name(p.stem + ".vectors.npz")


def convert(opts: ConvertOptions) -> StepResult:
    if opts.mode not in MODES:
        raise ConfigError(f"--mode {opts.mode!r} is not one of {', '.join(MODES)}")
    if opts.calibration_samples < 1:
        raise ConfigError(f"--calibration-samples {opts.calibration_samples} must be at least 1")
    if opts.output.suffix.lower() != ".tflite":
        raise ConfigError(f"--output {opts.output} must be a .tflite file")
    if opts.input.suffix.lower() not in MODEL_SUFFIXES:
        raise ConfigError(f"--input {opts.input} must be a Keras model (.h5 or .keras) written "
                          "by `tflm-hil model train`")
    if not opts.input.is_file():
        raise ConfigError(f"the input model {opts.input} does not exist: check --input")
    trained = Stamp.require(opts.input, "train",
                            "convert takes a model written by `tflm-hil model train`")
    record = preprocess_path(opts.input)
    prep = Preprocessing.load(record)
    data_path = opts.data or Path(trained.info["data"]["path"])
    if not data_path.is_file():
        raise ConfigError(f"the training data {data_path} is gone: pass --data PROCESSED.csv")
    data_sha = atomic.sha256_file(data_path)
    if data_sha != trained.info["data"]["sha256"]:
        raise ConfigError(
            f"{data_path} changed since {opts.input.name} was trained on it (sha256 "
            f"{data_sha[:12]} != {trained.info['data']['sha256'][:12]}): retrain, or pass "
            "--data with the file it was trained on"
        )
    tool_versions = package_versions(*TF_VERSIONS, "tflite-micro")
    recipe = {"input_sha256": atomic.sha256_file(opts.input), "data_sha256": data_sha,
              "preprocess_sha256": atomic.sha256_file(record), "mode": opts.mode,
              "seed": opts.seed, "calibration_samples": opts.calibration_samples,
              "versions": tool_versions}
    stamp = Stamp("convert", recipe)
    out_record, out_vectors = preprocess_path(opts.output), vectors_path(opts.output)
    if not opts.force and stamp.up_to_date(opts.output):
        return StepResult(True, [opts.output, out_record, out_vectors],
                          f"{opts.output} is up to date", stamp.info)

    data = read_csv(data_path, shape=prep.input_shape, require_split=True, flag="--data")
    prep.check(data, str(data_path))
    train_rows, test_rows = data.rows("train"), data.rows("test")
    rng = np.random.default_rng(opts.seed)
    x_train = train_rows.shaped()
    calibration = x_train[rng.permutation(len(x_train))[: opts.calibration_samples]]

    quiet_tensorflow()
    from ...model.convert import convert_float, convert_int8, versions
    from ...model.reference import KerasReference

    reference = KerasReference(opts.input)
    blob = (convert_int8(reference.keras, calibration) if opts.mode == "int8"
            else convert_float(reference.keras))
    info = TfliteModel(blob, opts.output.name)
    tin = info.inputs[0]
    x_f = test_rows.shaped().reshape((len(test_rows), *tin.shape))
    x_q = quantize(x_f, tin)  # a float input takes x_f as it is
    labels = test_rows.label_indices(prep.classes)
    host = _host_metrics(info, x_q, x_f, labels, reference)

    atomic.write_bytes(opts.output, blob)
    atomic.copy_file(record, out_record)
    buf = io.BytesIO()
    np.savez_compressed(buf, x=x_q, x_float=x_f, labels=labels)
    atomic.write_bytes(out_vectors, buf.getvalue())
    record_outputs(stamp, opts.output, out_record, out_vectors)
    stamp.info = {
        "model_sha256": info.sha256, "bytes": len(blob), "mode": opts.mode,
        "ops": info.op_versions, "macs": info.macs,
        "input": {"shape": list(tin.shape), "dtype": str(tin.dtype), "scale": tin.scale,
                  "zero_point": tin.zero_point},
        "calibration": f"{len(calibration)} training rows (seed {opts.seed})",
        "vectors": {"rows": len(test_rows), "file": out_vectors.name},
        "host_metrics": host,
        "reference": {"path": str(opts.input.resolve()),
                      "sha256": recipe["input_sha256"]},
        "training": trained.info,
        "versions": {**versions(), "tflite-micro": tool_versions["tflite-micro"]},
    }
    stamp.save(opts.output)
    acc = host.get("int8_tflm_host_accuracy", host.get("float_tflm_host_accuracy"))
    return StepResult(False, [opts.output, out_record, out_vectors],
                      f"{opts.mode} model {len(blob)} bytes (sha256 {info.sha256[:12]}), ops "
                      f"{', '.join(info.op_names)}; TFLM host accuracy {acc:.4f}, top-1 "
                      f"agreement with the float model {host['top1_agreement_vs_float']:.4f}",
                      stamp.info)


def _host_metrics(info: TfliteModel, x_in: np.ndarray, x_f: np.ndarray, labels: np.ndarray,
                  reference: FloatReference) -> dict[str, float]:
    from ...tflite.runtime import HostTflm

    out = HostTflm(info).run((x_in,))[0]
    pred = out.reshape(len(out), -1).argmax(axis=1)
    probs = reference.run((x_f,))[0]
    ref = probs.reshape(len(probs), -1).argmax(axis=1)
    key = "int8_tflm_host_accuracy" if info.is_quantized else "float_tflm_host_accuracy"
    return {
        key: round(float(np.mean(pred == labels)), 6),
        "float_keras_accuracy": round(float(np.mean(ref == labels)), 6),
        "top1_agreement_vs_float": round(float(np.mean(pred == ref)), 6),
    }
