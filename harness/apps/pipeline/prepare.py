"""``tflm-hil model preprocess``: split, fit the preprocessing on the training rows, apply it.

Writes the processed CSV (``label``, ``split``, the scaled features) and, beside it,
``<name>.preprocess.json``: the fitted parameters that train and convert carry forward.
The split is stratified by label and seeded; rows already marked with a ``split`` column
keep their split.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ... import atomic
from ...errors import ConfigError
from .dataset import Dataset, read_csv, write_csv
from .preprocess import METHODS, Preprocessing, preprocess_path
from .stamp import Stamp, package_versions, record_outputs, stamped_shape
from .step import StepResult


@dataclass(frozen=True)
class PreprocessOptions:
    input: Path
    output: Path
    seed: int = 1234
    method: str = "minmax"
    per_feature: bool = False
    test_size: float = 0.2
    shape: tuple[int, ...] | None = None
    force: bool = False


def preprocess(opts: PreprocessOptions) -> StepResult:
    if opts.output.suffix.lower() != ".csv":
        raise ConfigError(f"--output {opts.output} must be a .csv file")
    if opts.method not in METHODS:
        raise ConfigError(f"--method {opts.method!r} is not one of {', '.join(METHODS)}")
    if not 0.0 < opts.test_size < 1.0:
        raise ConfigError(f"--test-size {opts.test_size} must be between 0 and 1 (e.g. 0.2)")
    if not opts.input.is_file():
        raise ConfigError(f"the input file {opts.input} does not exist: check --input "
                          "(it is what `tflm-hil model collect --output` wrote)")
    if opts.input.resolve() == opts.output.resolve():
        raise ConfigError("--output must differ from --input: the raw data is kept as it was")
    shape = opts.shape or stamped_shape(opts.input)
    recipe = {
        "input_sha256": atomic.sha256_file(opts.input),
        "seed": opts.seed, "method": opts.method, "per_feature": opts.per_feature,
        "test_size": opts.test_size, "shape": list(shape) if shape else None,
        "versions": package_versions("scikit-learn", "numpy"),
    }
    stamp = Stamp("preprocess", recipe)
    record = preprocess_path(opts.output)
    if not opts.force and stamp.up_to_date(opts.output):
        return StepResult(True, [opts.output, record], f"{opts.output} is up to date")

    raw = read_csv(opts.input, shape=shape)
    given = raw.split is not None
    split = raw.split or _split(raw, opts.test_size, opts.seed)
    raw = replace(raw, split=split, model=None)
    train = raw.rows("train")
    if not len(train) or not len(raw.rows("test")):
        raise ConfigError(f"{opts.input}: the split left no training or no test rows: "
                          "collect more rows or change --test-size")
    prep = Preprocessing.fit(
        train, method=opts.method, per_feature=opts.per_feature, classes=raw.classes,
        split={"method": "given in the input" if given else "stratified",
               "test_size": opts.test_size, "seed": opts.seed},
        fitted_on={"rows": len(train), "data_sha256": recipe["input_sha256"]},
    )
    processed = replace(raw, x=prep.transform(raw.x).reshape(len(raw), -1).astype(np.float64))
    prep.save(record)
    write_csv(opts.output, processed)
    record_outputs(stamp, opts.output, record)
    stamp.info = {"shape": list(raw.shape), "rows": len(raw), "train": len(train),
                  "test": len(raw) - len(train), "classes": list(prep.classes),
                  "preprocessing": opts.method}
    stamp.save(opts.output)
    return StepResult(False, [opts.output, record],
                      f"{len(raw)} rows ({len(train)} train, {len(raw) - len(train)} test), "
                      f"{opts.method} scaling fitted on the training rows -> {opts.output}; "
                      f"parameters in {record}")


def _split(data: Dataset, test_size: float, seed: int) -> tuple[str, ...]:
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(data))
    counts = {c: data.labels.count(c) for c in data.classes}
    rare = [c for c, n in counts.items() if n < 2]
    if rare:
        raise ConfigError(
            f"class(es) {', '.join(rare[:5])} have a single row: a stratified split needs at "
            "least 2 rows per class; collect more data for them"
        )
    try:
        _, test = train_test_split(idx, test_size=test_size, stratify=list(data.labels),
                                   random_state=seed)
    except ValueError as exc:
        raise ConfigError(f"cannot split {len(data)} rows with --test-size {test_size}: {exc}"
                          ) from exc
    held = set(test.tolist())
    return tuple("test" if i in held else "train" for i in range(len(data)))
