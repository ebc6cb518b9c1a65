"""``tflm-hil model train``: a seeded Keras model from the processed CSV, saved as .h5 or .keras.

Beside the model: ``<name>.preprocess.json`` (the record it was trained with) and the stamp
``<model>.json`` (the data's hash and path, the parameters, the float accuracy on the
held-out rows, the hash of the weights, the versions). The same data, parameters and seed
give the same weights (``weights_sha256``) for one TensorFlow version.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ... import atomic
from ...errors import ConfigError
from ...model.convert import quiet_tensorflow
from . import architectures
from .dataset import read_csv
from .preprocess import Preprocessing, preprocess_path
from .progress import Progress
from .stamp import Stamp, package_versions, record_outputs
from .step import StepResult

MODEL_SUFFIXES = (".h5", ".keras")
TF_VERSIONS = ("tensorflow", "tensorflow-cpu", "keras", "numpy")


@dataclass(frozen=True)
class TrainOptions:
    input: Path
    output: Path
    seed: int = 1234
    architecture: str = "auto"
    epochs: int = 60
    batch_size: int = 32
    learning_rate: float = 2e-3
    dropout: float = 0.3
    dense_units: int = 32
    force: bool = False


def weights_sha256(model: Any) -> str:
    h = hashlib.sha256()
    for w in model.get_weights():
        h.update(np.ascontiguousarray(w).tobytes())
    return h.hexdigest()


def train(opts: TrainOptions) -> StepResult:
    if opts.output.suffix.lower() not in MODEL_SUFFIXES:
        raise ConfigError(f"--output {opts.output} must end in .h5 (legacy) or .keras")
    if opts.epochs < 1 or opts.batch_size < 1:
        raise ConfigError("--epochs and --batch-size must be at least 1")
    if not opts.input.is_file():
        raise ConfigError(f"the input file {opts.input} does not exist: check --input (what "
                          "`tflm-hil model preprocess --output` wrote)")
    record = preprocess_path(opts.input)
    if not record.is_file():
        raise ConfigError(
            f"{opts.input} has no preprocessing record ({record.name}) beside it: it is not "
            f"preprocessed data; run `tflm-hil model preprocess --input RAW.csv --output "
            f"{opts.input.name}` and train on its output"
        )
    prep = Preprocessing.load(record)
    params = {k: getattr(opts, k) for k in ("architecture", "epochs", "batch_size",
                                             "learning_rate", "dropout", "dense_units")}
    recipe = {"input_sha256": atomic.sha256_file(opts.input),
              "preprocess_sha256": atomic.sha256_file(record), "seed": opts.seed,
              "params": params, "format": opts.output.suffix.lower(),
              "versions": package_versions(*TF_VERSIONS)}
    stamp = Stamp("train", recipe)
    out_record = preprocess_path(opts.output)
    if not opts.force and stamp.up_to_date(opts.output):
        return StepResult(True, [opts.output, out_record], f"{opts.output} is up to date")

    data = read_csv(opts.input, shape=prep.input_shape, require_split=True)
    prep.check(data, str(opts.input))
    train_rows, test_rows = data.rows("train"), data.rows("test")
    if not len(train_rows) or not len(test_rows):
        raise ConfigError(f"{opts.input} needs both train and test rows: rerun preprocess")
    arch = architectures.choose(opts.architecture, prep.input_shape)
    y_train = train_rows.label_indices(prep.classes)
    y_test = test_rows.label_indices(prep.classes)

    quiet_tensorflow()
    from ...model.convert import seed_everything

    seed_everything(opts.seed)
    model, float_acc = _fit(arch, prep, train_rows.shaped(), y_train, test_rows.shaped(), y_test,
                            opts)
    with atomic.atomic_path(opts.output) as tmp:
        _save(model, tmp)
    atomic.copy_file(record, out_record)
    record_outputs(stamp, opts.output, out_record)
    stamp.info = {
        "architecture": arch, "float_accuracy": round(float_acc, 6),
        "weights_sha256": weights_sha256(model),
        "data": {"path": str(opts.input.resolve()), "sha256": recipe["input_sha256"],
                 "train": len(train_rows), "test": len(test_rows),
                 "raw_sha256": prep.fitted_on.get("data_sha256")},
        "classes": list(prep.classes), "input_shape": list(prep.input_shape),
        "seed": opts.seed, "params": params,
    }
    stamp.save(opts.output)
    return StepResult(False, [opts.output, out_record],
                      f"trained {arch} for {opts.epochs} epochs: float accuracy "
                      f"{float_acc:.4f} on {len(test_rows)} held-out rows -> {opts.output}",
                      {"float_accuracy": float_acc})


def _fit(arch: str, prep: Preprocessing, x_train: np.ndarray, y_train: np.ndarray,
         x_test: np.ndarray, y_test: np.ndarray, opts: TrainOptions) -> tuple[Any, float]:
    import keras

    def make(batch: int | None) -> Any:
        return architectures.build(arch, prep.input_shape, len(prep.classes), batch_size=batch,
                                   dropout=opts.dropout, dense_units=opts.dense_units)

    progress = Progress("epochs", opts.epochs)

    class ShowEpochs(keras.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            logs = logs or {}
            progress.update(epoch + 1, f"loss {logs.get('loss', float('nan')):.4f} "
                                       f"accuracy {logs.get('accuracy', float('nan')):.4f}")

    model = make(None)
    model.compile(optimizer=keras.optimizers.Adam(opts.learning_rate),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=opts.epochs, batch_size=opts.batch_size, shuffle=True,
              verbose=0, callbacks=[ShowEpochs()])
    shipped = make(1)
    shipped.set_weights(model.get_weights())
    probs = shipped.predict(x_test, batch_size=1, verbose=0)
    acc = float(np.mean(np.argmax(probs, axis=1) == y_test))
    progress.close(f"float accuracy {acc:.4f}")
    return shipped, acc


def _save(model: Any, path: Path) -> None:
    import logging

    # Keras logs that .h5 is "legacy" on every save: the user chose it, on purpose.
    absl = logging.getLogger("absl")
    level = absl.level
    absl.setLevel(logging.ERROR)
    try:
        model.save(path)
    finally:
        absl.setLevel(level)
