"""The comparison metrics (harness/metrics/compare.py, validation.py) on small outputs whose
figures are worked out by hand: a wrong metric is a wrong verdict at its gate."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from harness.metrics.compare import (
    confusion_matrix,
    is_classifier,
    versus_float,
    versus_host,
    versus_labels,
)
from harness.metrics.validation import validate
from harness.tflite.model import TensorInfo, TfliteModel
from harness.tflite.quant import dequantize
from harness.tflite.vectors import Vectors

from .conftest import ZOO


def tensor(shape=(1, 3), scale=0.5, zero_point=-1) -> TensorInfo:
    return TensorInfo(0, "out", shape, np.dtype(np.int8), scale, zero_point, False)


# two vectors of three scores; dequantised with (q + 1) * 0.5: [0, 1, 2] and [3, 0, 0]
DEVICE = np.array([[[-1, 1, 3]], [[5, -1, -1]]], dtype=np.int8)
REFERENCE = np.array([[[0.0, 1.0, 1.5]], [[0.0, 0.0, 4.0]]])
ERRORS = [0.0, 0.0, 0.5, 3.0, 0.0, -4.0]  # device - reference, element by element


def test_versus_float_figures_worked_by_hand():
    c = versus_float(DEVICE, REFERENCE, tensor(), 0, labels=np.array([2, 0]))
    m = c.metrics
    assert c.reference == "float" and c.output == 0
    assert m["max_abs_error"] == 4.0
    assert m["max_error_steps"] == 8.0  # 4.0 / scale 0.5
    assert m["mae"] == pytest.approx(7.5 / 6)
    assert m["rmse"] == pytest.approx(math.sqrt(25.25 / 6))
    assert m["l2_relative"] == pytest.approx(math.sqrt(25.25) / math.sqrt(19.25))
    # cosine per vector: 4 / (sqrt(5) * sqrt(3.25)), then 0 (orthogonal); their mean
    assert m["cosine"] == pytest.approx(4 / math.sqrt(5 * 3.25) / 2)
    assert m["mean_error"] == pytest.approx(-0.5 / 6)
    mean = -0.5 / 6
    assert m["std_error"] == pytest.approx(math.sqrt(sum((e - mean) ** 2 for e in ERRORS) / 6))
    assert c.errors_steps is not None
    assert c.errors_steps.tolist() == [e / 0.5 for e in ERRORS]
    # classes: device picks 2 then 0, the reference 2 then 2; the labels are 2 and 0
    assert m["top1_agreement"] == 0.5
    assert m["accuracy_reference"] == 0.5
    assert m["accuracy_drop"] == -0.5  # the device did better than the float model here
    assert c.confusion is not None
    assert c.confusion.tolist() == [[0, 0, 0], [0, 0, 0], [1, 0, 1]]  # [reference, device]
    assert c.named()["rmse_vs_float"] == m["rmse"]


def test_versus_float_zero_vectors_and_no_labels():
    zero = np.full((1, 1, 3), -1, dtype=np.int8)  # dequantises to zeros
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no division by zero on the way
        c = versus_float(zero, np.zeros((1, 1, 3)), tensor(), 1)
    assert c.metrics["cosine"] == 1.0  # two zero vectors agree
    assert c.metrics["l2_relative"] == 0.0  # no division by a zero reference
    assert "accuracy_drop" not in c.metrics and "accuracy_reference" not in c.metrics
    assert "top1_agreement" in c.metrics
    assert set(c.named()) == {f"{k}_vs_float[1]" for k in c.metrics}


def test_versus_float_without_a_scale_counts_absolute_steps():
    t = tensor(scale=0.0, zero_point=0)
    c = versus_float(np.array([[[1, 2, 3]]], dtype=np.int8), np.array([[[1.0, 2.0, 5.0]]]), t, 0)
    assert c.metrics["max_error_steps"] == 2.0


def test_versus_float_refuses_a_reference_of_another_shape():
    with pytest.raises(ValueError, match="device gives 3 values per vector, the float reference 2"):
        versus_float(DEVICE, np.zeros((2, 1, 2)), tensor(), 0)


def test_a_single_value_output_is_not_a_classifier():
    c = versus_float(DEVICE[:, :, :1], REFERENCE[:, :, :1], tensor((1, 1)), 0, np.array([0, 0]))
    assert "top1_agreement" not in c.metrics and c.confusion is None


@pytest.mark.parametrize(
    ("shape", "classifier"),
    [((1, 3), True), ((1, 2), True), ((3,), True), ((1, 1), False), ((1, 2, 2), False)],
)
def test_is_classifier(shape, classifier):
    assert is_classifier(tensor(shape)) is classifier


def test_versus_host_counts_vectors_and_steps_as_integers():
    dev = np.array([[1, 2], [3, 4], [-128, 6]], dtype=np.int8)
    host = np.array([[1, 2], [3, 5], [127, 6]], dtype=np.int8)
    c = versus_host(dev, host, tensor((1, 2)), 0)
    assert c.metrics == {"vectors_differing": 2.0, "max_error_steps": 255.0}  # no int8 wrap
    assert c.errors_steps is not None and c.errors_steps.tolist() == [0, 0, 0, -1, -255, 0]
    same = versus_host(dev, dev.copy(), tensor((1, 2)), 2)
    assert same.named() == {"vectors_differing_vs_host[2]": 0.0, "max_error_steps_vs_host[2]": 0.0}
    empty = versus_host(np.zeros((2, 0), np.int8), np.zeros((2, 0), np.int8), tensor((1, 0)), 0)
    assert empty.metrics["max_error_steps"] == 0.0


def test_versus_labels_accuracy_and_confusion():
    dev = np.array([[[0, 5, 1]], [[9, 0, 0]], [[0, 0, 7]], [[0, 3, 0]]], dtype=np.int8)
    c = versus_labels(dev, np.array([1, 0, 2, 3]), tensor(), 0)  # device: 1, 0, 2, 1
    assert c.metrics == {"accuracy": 0.75}
    assert c.confusion is not None
    # a label beyond the device's classes still gets its row: [true class, device class]
    assert c.confusion.tolist() == [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 1, 0, 0]]


def test_confusion_matrix_counts_each_pair():
    m = confusion_matrix(np.array([0, 0, 1, 2]), np.array([0, 1, 1, 1]), 3)
    assert m.tolist() == [[1, 1, 0], [0, 1, 0], [0, 1, 0]]


def test_validate_compares_each_output_and_labels_only_output_0():
    model = TfliteModel.load(ZOO / "two_outputs.tflite")
    out0, out1 = model.outputs
    n = 4
    rng = np.random.default_rng(3)
    device = [rng.integers(-128, 128, size=(n, *t.shape), dtype=np.int8) for t in model.outputs]
    host = [d.copy() for d in device]
    host[1][0, 0, 0] ^= 1  # one vector of output 1 differs from the host runtime
    floats = [dequantize(d, t) for d, t in zip(device, model.outputs, strict=True)]
    labels = np.array([0, 1, 1, 0])
    vectors = Vectors(inputs=(np.zeros((n, 1, 8, 8, 1), np.int8),), source="t", labels=labels)
    v = validate(model, vectors, device, host, floats)
    assert [(c.reference, c.output) for c in v.comparisons] == [
        ("host", 0), ("float", 0), ("labels", 0), ("host", 1), ("float", 1)
    ]
    assert v.metrics["vectors_differing_vs_host"] == 0.0
    assert v.metrics["vectors_differing_vs_host[1]"] == 1.0
    assert v.metrics["top1_agreement_vs_float"] == 1.0  # floats are the device's own outputs
    assert "accuracy_drop_vs_float" in v.metrics and "accuracy_drop_vs_float[1]" not in v.metrics
    assert v.find("labels") is v.comparisons[2]
    assert v.find("float", 1) is v.comparisons[4]
    assert v.find("labels", 1) is None and v.find("host", 2) is None
    assert out0.shape != out1.shape
    only_host = validate(model, Vectors(vectors.inputs, "t"), device, host, None)
    assert [c.reference for c in only_host.comparisons] == ["host", "host"]


def test_versus_float_small_vectors_and_labels_that_favour_the_reference():
    """Norms below 1 are still divided by (cosine, relative L2), and an accuracy drop is
    positive when the float model was right more often than the device."""
    t = tensor(scale=0.01, zero_point=0)
    dev = np.array([[[10, 0, 0]], [[0, 20, 0]]], dtype=np.int8)  # 0.1, 0.2
    ref = np.array([[[0.1, 0.1, 0.0]], [[0.0, 0.0, 0.3]]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no division by zero on the way
        c = versus_float(dev, ref, t, 0, labels=np.array([0, 2]))
    assert c.metrics["cosine"] == pytest.approx((0.01 / (0.1 * math.sqrt(0.02)) + 0.0) / 2)
    err = math.sqrt(0.1**2 + 0.2**2 + 0.3**2)
    assert c.metrics["l2_relative"] == pytest.approx(err / math.sqrt(0.01 + 0.01 + 0.09))
    # device picks 0 then 1; the float model 0 (tie: the first) then 2; labels 0 then 2
    assert c.metrics["accuracy_reference"] == 1.0
    assert c.metrics["accuracy_drop"] == 0.5
