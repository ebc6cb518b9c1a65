"""Per-output comparison metrics, the set ST's on-target validation reports (ACC, RMSE, MAE,
L2r, COS, mean/std of error, confusion matrix), plus errors in quantisation steps.

Device outputs are dequantised with the output tensor's scale and zero point before they are
compared with a float reference; against the TFLM host runtime they are compared as integers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..tflite.model import TensorInfo
from ..tflite.quant import dequantize


@dataclass
class OutputComparison:
    """Metrics of one output tensor against one reference."""

    reference: str  # "float", "host" or "labels"
    output: int
    metrics: dict[str, float] = field(default_factory=dict)
    errors_steps: np.ndarray | None = None  # per element, for the error histogram
    confusion: np.ndarray | None = None  # [true or reference class, device class]

    def named(self) -> dict[str, float]:
        """Metric names as stored and gated: ``rmse_vs_float``, ``rmse_vs_float[1]``..."""
        suffix = f"_vs_{self.reference}" + (f"[{self.output}]" if self.output else "")
        return {f"{k}{suffix}": v for k, v in self.metrics.items()}


def _flat(a: np.ndarray) -> np.ndarray:
    return a.reshape(a.shape[0], -1)


def is_classifier(t: TensorInfo) -> bool:
    """One score per class: a vector of at least two values per example."""
    return int(np.prod(t.shape)) >= 2 and sum(d > 1 for d in t.shape) == 1


def confusion_matrix(truth: np.ndarray, predicted: np.ndarray, classes: int) -> np.ndarray:
    m = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(m, (truth.astype(np.int64), predicted.astype(np.int64)), 1)
    return m


def versus_float(
    device: np.ndarray,
    reference: np.ndarray,
    t: TensorInfo,
    index: int,
    labels: np.ndarray | None = None,
) -> OutputComparison:
    dev = _flat(dequantize(device, t)).astype(np.float64)
    ref = _flat(np.asarray(reference, dtype=np.float64))
    if dev.shape != ref.shape:
        raise ValueError(
            f"output {index}: device gives {dev.shape[1]} values per vector, the float reference "
            f"{ref.shape[1]}: the reference is not the model this .tflite came from"
        )
    err = dev - ref
    step = t.scale if t.scale else 1.0
    norms = np.linalg.norm(dev, axis=1) * np.linalg.norm(ref, axis=1)
    cos = np.where(norms > 0, np.sum(dev * ref, axis=1) / np.where(norms > 0, norms, 1), 1.0)
    ref_norm = np.linalg.norm(ref)
    m = {
        "max_abs_error": float(np.max(np.abs(err))),
        "max_error_steps": float(np.max(np.abs(err)) / step),
        "mae": float(np.mean(np.abs(err))),
        "rmse": float(np.sqrt(np.mean(err**2))),
        "l2_relative": float(np.linalg.norm(err) / ref_norm) if ref_norm > 0 else 0.0,
        "cosine": float(np.mean(cos)),
        "mean_error": float(np.mean(err)),
        "std_error": float(np.std(err)),
    }
    cmp = OutputComparison("float", index, m, errors_steps=(err / step).ravel())
    if is_classifier(t):
        dev_top, ref_top = dev.argmax(axis=1), ref.argmax(axis=1)
        m["top1_agreement"] = float(np.mean(dev_top == ref_top))
        classes = dev.shape[1]
        cmp.confusion = confusion_matrix(ref_top, dev_top, classes)
        if labels is not None:
            m["accuracy_reference"] = float(np.mean(ref_top == labels))
            m["accuracy_drop"] = m["accuracy_reference"] - float(np.mean(dev_top == labels))
    return cmp


def versus_host(
    device: np.ndarray, host: np.ndarray, t: TensorInfo, index: int
) -> OutputComparison:
    """Bit-exactness against the TFLM host runtime, in integer steps."""
    dev = _flat(device).astype(np.int64)
    ref = _flat(host).astype(np.int64)
    diff = np.abs(dev - ref)
    m = {
        "vectors_differing": float(np.count_nonzero(np.any(diff != 0, axis=1))),
        "max_error_steps": float(diff.max()) if diff.size else 0.0,
    }
    return OutputComparison("host", index, m, errors_steps=(dev - ref).ravel().astype(np.float64))


def versus_labels(
    device: np.ndarray, labels: np.ndarray, t: TensorInfo, index: int
) -> OutputComparison:
    dev_top = _flat(device).argmax(axis=1)
    classes = max(int(_flat(device).shape[1]), int(labels.max()) + 1)
    cmp = OutputComparison("labels", index, {"accuracy": float(np.mean(dev_top == labels))})
    cmp.confusion = confusion_matrix(labels, dev_top, classes)
    return cmp
