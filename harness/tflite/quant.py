"""Affine quantisation as TFLite defines it: real = scale * (q - zero_point)."""

from __future__ import annotations

import numpy as np

from .model import TensorInfo


def quantize(x: np.ndarray, t: TensorInfo) -> np.ndarray:
    """Float values to the tensor's integer type (round half away from zero, saturate)."""
    if not np.issubdtype(t.dtype, np.integer):
        return np.asarray(x, dtype=t.dtype)
    if t.scale == 0:
        raise ValueError(f"tensor {t.name!r} is {t.dtype} without quantisation parameters")
    info = np.iinfo(t.dtype)
    v = np.asarray(x, dtype=np.float64) / t.scale
    q = np.sign(v) * np.floor(np.abs(v) + 0.5) + t.zero_point  # np.round would go half to even
    return np.clip(q, info.min, info.max).astype(t.dtype)


def dequantize(q: np.ndarray, t: TensorInfo) -> np.ndarray:
    if not np.issubdtype(t.dtype, np.integer) or t.scale == 0:
        return np.asarray(q, dtype=np.float32)
    return ((np.asarray(q, dtype=np.float64) - t.zero_point) * t.scale).astype(np.float32)
