"""The recorded preprocessing: one fitted transform, saved beside every artifact it shaped.

``Preprocessing`` is fitted on the training split only and saved as
``<name>.preprocess.json`` beside the processed data, the trained model and the converted
model (and in the registry). Training, the test vectors, field feedback and the device's
input quantisation all go through :meth:`Preprocessing.transform` of that one file, so
they cannot drift apart. The transform is affine per value: ``(x - offset) / scale``,
optionally clipped, then shaped; a device applies the same two numbers before quantising.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ... import atomic
from ...errors import ConfigError
from .dataset import Dataset

METHODS = ("minmax", "standard", "none")
PREPROCESS_VERSION = 1


@dataclass(frozen=True)
class Preprocessing:
    method: str
    per_feature: bool
    offset: tuple[float, ...]  # one value, or one per feature
    scale: tuple[float, ...]
    input_shape: tuple[int, ...]
    feature_names: tuple[str, ...]
    classes: tuple[str, ...]
    split: dict[str, Any] = field(default_factory=dict)  # how the held-out rows were chosen
    fitted_on: dict[str, Any] = field(default_factory=dict)  # rows and hash of the fit data
    clip: tuple[float, float] | None = None  # read from a record if set; fit never sets it
    version: int = PREPROCESS_VERSION

    @classmethod
    def fit(
        cls,
        train: Dataset,
        *,
        method: str,
        per_feature: bool,
        classes: tuple[str, ...],
        split: dict[str, Any] | None = None,
        fitted_on: dict[str, Any] | None = None,
    ) -> Preprocessing:
        if method not in METHODS:
            raise ConfigError(f"preprocessing method {method!r} is not one of {', '.join(METHODS)}")
        x = train.x
        axis = 0 if per_feature else None
        if method == "minmax":
            lo, hi = np.min(x, axis=axis), np.max(x, axis=axis)
            offset, scale = lo, hi - lo
        elif method == "standard":
            offset, scale = np.mean(x, axis=axis), np.std(x, axis=axis)
        else:
            offset, scale = np.zeros(()), np.ones(())
        # A constant column (a pixel that is always 0) would divide by zero: leave it unscaled.
        scale = np.where(np.asarray(scale) > 0, scale, 1.0)
        return cls(
            method=method,
            per_feature=per_feature,
            offset=tuple(float(v) for v in np.atleast_1d(offset)),
            scale=tuple(float(v) for v in np.atleast_1d(scale)),
            input_shape=train.shape,
            feature_names=train.feature_names,
            classes=classes,
            split=dict(split or {}),
            fitted_on=dict(fitted_on or {}),
        )

    def check(self, data: Dataset, source: str) -> None:
        """Refuses data whose columns differ from what this preprocessing was fitted on."""
        if data.feature_names != self.feature_names:
            missing = [c for c in self.feature_names if c not in data.feature_names]
            extra = [c for c in data.feature_names if c not in self.feature_names]
            detail = []
            if missing:
                detail.append(f"missing {_few(missing)}")
            if extra:
                detail.append(f"unexpected {_few(extra)}")
            if not detail:
                detail.append("the same columns in another order")
            raise ConfigError(
                f"{source} does not have the columns the model was trained on "
                f"({'; '.join(detail)}): give it the {len(self.feature_names)} feature columns "
                f"{self.feature_names[0]}..{self.feature_names[-1]} in that order"
            )

    def transform(self, x: np.ndarray) -> np.ndarray:
        """Raw values (N, F) -> model inputs (N, *input_shape), float32."""
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != len(self.feature_names):
            raise ConfigError(
                f"preprocessing takes rows of {len(self.feature_names)} values, got shape "
                f"{x.shape}"
            )
        y = (x - np.asarray(self.offset)) / np.asarray(self.scale)
        if self.clip is not None:
            y = np.clip(y, self.clip[0], self.clip[1])
        return y.astype(np.float32).reshape((x.shape[0], *self.input_shape))

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["kind"] = "tflm-hil preprocessing"
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any], source: str = "preprocessing") -> Preprocessing:
        try:
            if d.get("kind") != "tflm-hil preprocessing":
                raise ValueError("not a tflm-hil preprocessing file")
            if int(d["version"]) > PREPROCESS_VERSION:
                raise ValueError(f"version {d['version']} is newer than this tflm-hil reads")
            p = cls(
                method=str(d["method"]),
                per_feature=bool(d["per_feature"]),
                offset=tuple(float(v) for v in d["offset"]),
                scale=tuple(float(v) for v in d["scale"]),
                input_shape=tuple(int(v) for v in d["input_shape"]),
                feature_names=tuple(str(v) for v in d["feature_names"]),
                classes=tuple(str(v) for v in d["classes"]),
                split=dict(d.get("split") or {}),
                fitted_on=dict(d.get("fitted_on") or {}),
                clip=None if d.get("clip") is None else (float(d["clip"][0]), float(d["clip"][1])),
                version=int(d["version"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"{source} is not a valid preprocessing record: {exc}") from exc
        n = len(p.feature_names)
        if len(p.offset) not in (1, n) or len(p.scale) not in (1, n) or 0.0 in p.scale:
            raise ConfigError(f"{source}: offset/scale must hold 1 or {n} non-zero values")
        return p

    def save(self, path: str | os.PathLike[str]) -> None:
        atomic.write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Preprocessing:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(
                f"the preprocessing record {p} is missing: it is written by `tflm-hil model "
                "preprocess` and copied beside the model by train and convert; rerun them"
            )
        try:
            raw = atomic.read_json(p)
        except ValueError as exc:
            raise ConfigError(f"{p} is not JSON: {exc}") from exc
        return cls.from_dict(raw, str(p))


def preprocess_path(artifact: str | os.PathLike[str]) -> Path:
    """Where an artifact's preprocessing record lives: model.tflite -> model.preprocess.json."""
    p = Path(artifact)
    return p.with_name(p.stem + ".preprocess.json")


def _few(names: list[str]) -> str:
    return ", ".join(names[:5]) + ("..." if len(names) > 5 else "")
