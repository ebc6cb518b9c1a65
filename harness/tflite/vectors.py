"""Test vectors: loaded from an .npz next to the model, or generated over the input's range.

File format (docs/validation.md): ``x`` (one input) or ``x0``, ``x1``... (several), each of
shape (N, *input_shape) or (N, *input_shape[1:]) in the input's dtype (float arrays are
quantised with the input's parameters); ``x_float``, the float inputs of a one-input model,
which when present take precedence (quantised with the model's own parameters); optional
``labels`` (true classes, for accuracy).
"""

from __future__ import annotations

import dataclasses
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ConfigError
from .model import TensorInfo, TfliteModel
from .quant import dequantize, quantize


@dataclass(frozen=True)
class Vectors:
    inputs: tuple[np.ndarray, ...]  # one (N, *shape) array per model input, in its dtype
    source: str
    x_float: tuple[np.ndarray, ...] | None = None
    labels: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.inputs[0].shape[0]) if self.inputs else 0

    def payload(self, i: int) -> bytes:
        """Vector i as the device receives it: every input's bytes, concatenated."""
        return b"".join(np.ascontiguousarray(x[i]).tobytes() for x in self.inputs)

    def float_inputs(self, model: TfliteModel) -> tuple[np.ndarray, ...]:
        """The float inputs: given ones, or the quantised ones dequantised."""
        if self.x_float is not None:
            return self.x_float
        return tuple(dequantize(x, t) for x, t in zip(self.inputs, model.inputs, strict=True))


def _fit(name: str, arr: np.ndarray, t: TensorInfo, source: str) -> np.ndarray:
    shape = t.shape
    if arr.shape[1:] == shape:
        pass
    elif shape and shape[0] == 1 and arr.shape[1:] == shape[1:]:
        arr = arr.reshape((arr.shape[0], *shape))
    else:
        raise ConfigError(
            f"{source}: '{name}' has shape {arr.shape}, the model input {t.name!r} takes "
            f"(N, {', '.join(map(str, shape))}): regenerate the vectors for this model"
        )
    if np.issubdtype(arr.dtype, np.floating) and np.issubdtype(t.dtype, np.integer):
        if not np.all(np.isfinite(arr)):
            raise ConfigError(f"{source}: '{name}' holds NaN or infinite values")
        return quantize(arr, t)
    if arr.dtype != t.dtype:
        raise ConfigError(
            f"{source}: '{name}' is {arr.dtype}, the model input {t.name!r} is {t.dtype}: "
            f"store the inputs as {t.dtype} (or as float, to be quantised)"
        )
    return arr


def _as_float(t: TensorInfo) -> TensorInfo:
    return dataclasses.replace(t, dtype=np.dtype(np.float32))


def load_vectors(path: str | Path, model: TfliteModel) -> Vectors:
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"vectors file {p} does not exist: pass --vectors PATH.npz or omit it")
    fix = "save the vectors with numpy.savez(PATH, x=...) (docs/validation.md)"
    if not zipfile.is_zipfile(p):  # np.load would take it for a pickle or a .npy
        raise ConfigError(f"{p} is not a NumPy .npz file (not a zip archive): {fix}")
    try:
        data = np.load(p, allow_pickle=False)
        if not isinstance(data, np.lib.npyio.NpzFile):
            raise ValueError("a single array (.npy), not an archive of named arrays")
    except Exception as exc:  # numpy raises several types for a damaged archive
        raise ConfigError(f"{p} is not a readable NumPy .npz file ({exc}): {fix}") from exc
    n_in = len(model.inputs)
    x_float = None
    inputs: tuple[np.ndarray, ...]
    if "x_float" in data and n_in == 1:
        # The float inputs are the truth: quantised with *this* model's input parameters, so
        # vectors made for one model stay right for its retrained or reconverted successor.
        xf = data["x_float"].astype(np.float32)
        x_float = (_fit("x_float", xf, _as_float(model.inputs[0]), str(p)),)
        inputs = (_fit("x_float", xf, model.inputs[0], str(p)),)
    else:
        names = ["x"] if n_in == 1 and "x0" not in data else [f"x{i}" for i in range(n_in)]
        missing = [n for n in names if n not in data]
        if missing:
            raise ConfigError(
                f"{p} lacks {', '.join(missing)} (has {', '.join(data.files)}): the model has "
                f"{n_in} input(s); store them as 'x' (one input) or 'x0', 'x1', ..."
            )
        inputs = tuple(
            _fit(n, data[n], t, str(p)) for n, t in zip(names, model.inputs, strict=True)
        )
    if len({x.shape[0] for x in inputs}) != 1 or inputs[0].shape[0] == 0:
        raise ConfigError(
            f"{p}: the input arrays must all hold the same, non-zero number of vectors"
        )
    labels = data.get("labels")
    if labels is not None and labels.shape[0] != inputs[0].shape[0]:
        raise ConfigError(f"{p}: {labels.shape[0]} labels for {inputs[0].shape[0]} vectors")
    return Vectors(inputs, str(p), x_float, labels)


# Vectors generated when none are given: the HIL suite and the matrix's probe agree on them.
DEFAULT_GENERATED = 64


def generate_vectors(model: TfliteModel, n: int = DEFAULT_GENERATED, seed: int = 0) -> Vectors:
    """Vectors over each input's quantised range: its edges and zero point, then uniform noise."""
    rng = np.random.default_rng(seed)
    inputs = []
    for t in model.inputs:
        if np.issubdtype(t.dtype, np.integer):
            info = np.iinfo(t.dtype)
            lo, hi = info.min, info.max
            edges = [np.full(t.shape, v, t.dtype) for v in (lo, hi, np.clip(t.zero_point, lo, hi))]
            noise = rng.integers(
                lo, hi, size=(max(n - 3, 0), *t.shape), endpoint=True, dtype=t.dtype
            )
        else:
            edges = [np.full(t.shape, v, t.dtype) for v in (-1.0, 1.0, 0.0)]
            noise = rng.uniform(-1, 1, size=(max(n - 3, 0), *t.shape)).astype(t.dtype)
        inputs.append(np.concatenate([np.stack(edges)[:n], noise]))
    return Vectors(tuple(inputs), f"generated (seed {seed}, {n} vectors)")
