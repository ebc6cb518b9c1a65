"""Every vector through the device, bit for bit against the TFLM host runtime."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.hil


def test_every_vector_answered(device_run, hil_vectors):
    outputs, results = device_run
    assert len(results) == len(hil_vectors)
    assert all(o.shape[0] == len(hil_vectors) for o in outputs)


def largest_error(dev: np.ndarray, host: np.ndarray) -> str:
    """The largest difference over all vectors: in quantisation steps for integer outputs (one
    step is one unit of the stored integer), in output units for float ones."""
    diff = np.abs(dev.astype(np.float64) - host.astype(np.float64))
    at = np.unravel_index(int(np.argmax(diff)), diff.shape)
    unit = "quantisation steps" if np.issubdtype(dev.dtype, np.integer) else "(float output)"
    return f"largest error {diff[at]:g} {unit} at vector {at[0]}"


def test_bit_exact_with_tflm_host_runtime(device_run, host_outputs):
    outputs, _ = device_run
    for k, (dev, host) in enumerate(zip(outputs, host_outputs, strict=True)):
        dev2, host2 = dev.reshape(len(dev), -1), host.reshape(len(host), -1)
        differs = np.flatnonzero(np.any(dev2 != host2, axis=1))
        if differs.size:
            i = int(differs[0])
            pytest.fail(
                f"output {k}: {differs.size} of {len(dev)} vectors differ from the TFLM host "
                f"runtime, {largest_error(dev2, host2)}; first at vector {i}: "
                f"device {dev2[i].tolist()} host {host2[i].tolist()}"
            )
