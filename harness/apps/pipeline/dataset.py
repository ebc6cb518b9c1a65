"""The pipeline's CSV format: one labelled window (or image) per row.

Columns: ``label`` (the true class, a name or a number), optionally ``split`` (``train`` or
``test``, written by preprocess) and ``model`` (field feedback: the model version that ran),
then the feature columns: the window's values flattened in C order. The per-row shape
(e.g. 8,8,1 for an image, or window,axes for sensor data) is kept in the stamp beside the
file (``<file>.json``), or given with ``--shape``; without either a row is one flat vector.

Reading checks everything a user's file can get wrong and names the fix: a missing column,
a ragged row, text where a number belongs, NaN, a shape that does not match the columns.
"""

from __future__ import annotations

import csv
import io
import math
import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ... import atomic
from ...errors import ConfigError

LABEL = "label"
SPLIT = "split"
MODEL = "model"
RESERVED = (LABEL, SPLIT, MODEL)
SPLITS = ("train", "test")


@dataclass(frozen=True)
class Dataset:
    x: np.ndarray  # (N, F) float64, raw or preprocessed values, flattened
    labels: tuple[str, ...]  # the true class of each row, as written
    shape: tuple[int, ...]  # per-row shape; its product is F
    feature_names: tuple[str, ...]
    split: tuple[str, ...] | None = None  # per row: "train" or "test"
    model: tuple[str, ...] | None = None  # per row: the model version (field feedback)

    def __len__(self) -> int:
        return int(self.x.shape[0])

    @property
    def classes(self) -> tuple[str, ...]:
        return class_order(self.labels)

    def label_indices(self, classes: tuple[str, ...] | list[str]) -> np.ndarray:
        index = {c: i for i, c in enumerate(classes)}
        unknown = sorted(set(self.labels) - set(index))
        if unknown:
            raise ConfigError(
                f"labels {', '.join(map(repr, unknown[:5]))} are not classes the model knows "
                f"({', '.join(classes)}): relabel those rows or retrain with them"
            )
        return np.array([index[v] for v in self.labels], dtype=np.int64)

    def take(self, rows: np.ndarray) -> Dataset:
        """The given rows (indices, in that order), every per-row column with them."""
        return replace(
            self,
            x=self.x[rows],
            labels=tuple(self.labels[i] for i in rows),
            split=None if self.split is None else tuple(self.split[i] for i in rows),
            model=None if self.model is None else tuple(self.model[i] for i in rows),
        )

    def rows(self, which: str) -> Dataset:
        """The rows of one split."""
        if self.split is None:
            raise ConfigError("the data has no 'split' column: run `tflm-hil model preprocess`")
        return self.take(np.flatnonzero([s == which for s in self.split]))

    def shaped(self) -> np.ndarray:
        return self.x.reshape((len(self), *self.shape)).astype(np.float32)


def class_order(labels: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """Classes in a fixed order: numerically when every label is an integer, else by name."""
    distinct = set(labels)
    if all(_is_int(v) for v in distinct):
        return tuple(sorted(distinct, key=int))
    return tuple(sorted(distinct))


def _is_int(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True


def parse_shape(text: str | None) -> tuple[int, ...] | None:
    if not text:
        return None
    try:
        shape = tuple(int(p) for p in text.replace("x", ",").split(",") if p.strip())
    except ValueError:
        raise ConfigError(f"--shape {text!r} is not a list of sizes: write it as 8,8,1") from None
    if not shape or any(d < 1 for d in shape):
        raise ConfigError(f"--shape {text!r} must be positive sizes, e.g. 8,8,1")
    return shape


def format_value(v: float) -> str:
    # 9 significant digits round-trip a float32 exactly; integers stay integers ("16").
    return f"{v:.9g}"


def to_csv_text(data: Dataset) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    head = [LABEL]
    if data.split is not None:
        head.append(SPLIT)
    if data.model is not None:
        head.append(MODEL)
    w.writerow(head + list(data.feature_names))
    for i in range(len(data)):
        row = [data.labels[i]]
        if data.split is not None:
            row.append(data.split[i])
        if data.model is not None:
            row.append(data.model[i])
        w.writerow(row + [format_value(float(v)) for v in data.x[i]])
    return out.getvalue()


def write_csv(path: str | os.PathLike[str], data: Dataset) -> None:
    """Writes atomically."""
    atomic.write_text(path, to_csv_text(data))


def read_csv(
    path: str | os.PathLike[str],
    *,
    shape: tuple[int, ...] | None = None,
    require_split: bool = False,
    flag: str = "--input",
) -> Dataset:
    """Reads and checks a data CSV; ``flag`` is the option that named the file."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"the file {p} does not exist: check {flag}")
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{p} is not a UTF-8 text CSV file") from None
    rows = list(csv.reader(io.StringIO(text)))
    rows = [r for r in rows if r and any(c.strip() for c in r)]
    if not rows:
        raise ConfigError(f"{p} is empty: it needs a header row and at least one data row")
    header = [h.strip() for h in rows[0]]
    if LABEL not in header:
        raise ConfigError(
            f"{p} has no '{LABEL}' column (columns: {', '.join(header[:8])}"
            f"{'...' if len(header) > 8 else ''}): add the true class of each row as '{LABEL}'"
        )
    if require_split and SPLIT not in header:
        raise ConfigError(
            f"{p} has no '{SPLIT}' column: it is not preprocessed data; run "
            f"`tflm-hil model preprocess --input {p.name} --output processed_data.csv` first"
        )
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        raise ConfigError(f"{p}: column(s) {', '.join(dupes)} appear twice: rename them")
    feat_cols = [i for i, h in enumerate(header) if h not in RESERVED]
    if not feat_cols:
        raise ConfigError(f"{p} has no feature columns besides {', '.join(RESERVED)}")
    if len(rows) < 2:
        raise ConfigError(f"{p} has a header but no data rows")
    x = np.empty((len(rows) - 1, len(feat_cols)), dtype=np.float64)
    labels, splits, models = [], [], []
    col = {h: i for i, h in enumerate(header)}
    for r, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise ConfigError(
                f"{p} line {r} has {len(row)} fields, the header has {len(header)}: "
                "every row needs a value in every column"
            )
        label = row[col[LABEL]].strip()
        if not label:
            raise ConfigError(f"{p} line {r} has an empty '{LABEL}': every row needs its class")
        labels.append(label)
        if SPLIT in col:
            s = row[col[SPLIT]].strip()
            if s not in SPLITS:
                raise ConfigError(f"{p} line {r}: split {s!r} is not one of {', '.join(SPLITS)}")
            splits.append(s)
        if MODEL in col:
            models.append(row[col[MODEL]].strip())
        for j, c in enumerate(feat_cols):
            cell = row[c].strip()
            try:
                v = float(cell)
            except ValueError:
                raise ConfigError(
                    f"{p} line {r} column '{header[c]}': {cell!r} is not a number"
                ) from None
            if not math.isfinite(v):
                raise ConfigError(
                    f"{p} line {r} column '{header[c]}' is {cell or 'empty'}: NaN and infinite "
                    "values cannot be trained on or sent to a device; drop or repair that row"
                )
            x[r - 2, j] = v
    if shape is None:
        shape = (len(feat_cols),)
    if int(np.prod(shape)) != len(feat_cols):
        raise ConfigError(
            f"{p} has {len(feat_cols)} feature columns but the shape "
            f"{'x'.join(map(str, shape))} holds {int(np.prod(shape))} values: pass the right "
            "--shape, or check the columns"
        )
    return Dataset(
        x=x,
        labels=tuple(labels),
        shape=tuple(shape),
        feature_names=tuple(header[c] for c in feat_cols),
        split=tuple(splits) if SPLIT in col else None,
        model=tuple(models) if MODEL in col else None,
    )
