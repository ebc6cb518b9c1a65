"""Every vector through the device, each answer compared bit for bit with the TFLM host runtime.

What the comparison proves depends on what computes the device's answers (docs/validation.md,
"What bit-exactness proves"):

- simulated twin (``sim:``): its backend *is* the host runtime, so the comparison proves the
  transport, the firmware core and the packing of tensors, not the kernels;
- emulated board (``qemu:``): the board's pinned TFLM library computes on the emulated CPU, so
  it also proves that library's kernels agree with the host runtime;
- real board: everything, the board's library, compiler and CPU included.
"""

from __future__ import annotations

import numpy as np
import pytest

from harness.provenance import Provenance

pytestmark = pytest.mark.hil

# What a pass proves, by where the device's figures come from (the board's provenance)
PROVES = {
    Provenance.ESTIMATED: "transport, firmware core and tensor packing (the twin's backend is "
    "the host runtime itself: kernels not compared)",
    Provenance.EMULATED: "the board's pinned TFLM library's kernels on the emulated CPU, "
    "transport, firmware core and tensor packing",
    Provenance.MEASURED: "everything: the board's TFLM library, compiler and CPU, transport, "
    "firmware core and tensor packing",
}


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


def test_answers_equal_the_host_runtime_bit_for_bit(
    device_run, host_outputs, board, record_property
):
    proves = PROVES[board.provenance]
    record_property("bit_exact_proves", proves)
    outputs, _ = device_run
    for k, (dev, host) in enumerate(zip(outputs, host_outputs, strict=True)):
        dev2, host2 = dev.reshape(len(dev), -1), host.reshape(len(host), -1)
        differs = np.flatnonzero(np.any(dev2 != host2, axis=1))
        if differs.size:
            i = int(differs[0])
            pytest.fail(
                f"output {k}: {differs.size} of {len(dev)} vectors differ from the TFLM host "
                f"runtime, {largest_error(dev2, host2)}; first at vector {i}: "
                f"device {dev2[i].tolist()} host {host2[i].tolist()} (this comparison covers "
                f"{proves})"
            )
