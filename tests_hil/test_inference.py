"""Every vector through the device, judged against the TFLM host runtime and the float model."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.hil

# Share of vectors on which the int8 model on the device must pick the same class as the
# float model it was converted from. Quantisation moves a few borderline vectors; more
# than 5% means the conversion (or the device) lost accuracy.
MIN_TOP1_AGREEMENT = 0.95


def test_every_vector_answered(device_run, hil_vectors):
    outputs, results = device_run
    assert len(results) == len(hil_vectors)
    assert all(o.shape[0] == len(hil_vectors) for o in outputs)


def test_bit_exact_with_tflm_host_runtime(device_run, host_outputs, hil_record):
    outputs, _ = device_run
    for k, (dev, host) in enumerate(zip(outputs, host_outputs, strict=True)):
        dev2, host2 = dev.reshape(len(dev), -1), host.reshape(len(host), -1)
        differs = np.flatnonzero(np.any(dev2 != host2, axis=1))
        hil_record(f"output{k}_vectors_differing", int(differs.size))
        if differs.size:
            i = int(differs[0])
            pytest.fail(
                f"output {k}: {differs.size} of {len(dev)} vectors differ from the TFLM host "
                f"runtime; first at vector {i}: device {dev2[i].tolist()} host {host2[i].tolist()}"
            )


def test_top1_agrees_with_float_reference(
    device_run, float_reference, hil_vectors, hil_model, hil_record
):
    if float_reference is None:
        pytest.skip("no float reference given: pass --reference MODEL.keras|.h5|.tflite")
    outputs, _ = device_run
    ref = float_reference.run(hil_vectors.float_inputs(hil_model))
    dev_top1 = outputs[0].reshape(len(outputs[0]), -1).argmax(axis=1)
    ref_top1 = ref[0].reshape(len(ref[0]), -1).argmax(axis=1)
    agreement = float(np.mean(dev_top1 == ref_top1))
    hil_record("top1_agreement_vs_float", agreement)
    if hil_vectors.labels is not None:
        hil_record("top1_accuracy_device", float(np.mean(dev_top1 == hil_vectors.labels)))
    assert agreement >= MIN_TOP1_AGREEMENT, (
        f"top-1 agreement with the float model {agreement:.3f} < {MIN_TOP1_AGREEMENT} "
        f"({int(np.sum(dev_top1 != ref_top1))} of {len(dev_top1)} vectors disagree)"
    )
