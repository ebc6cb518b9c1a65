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

pytestmark = pytest.mark.hil

PROVES = {
    "simulated": "transport, firmware core and tensor packing (the twin's backend is the host "
    "runtime itself: kernels not compared)",
    "emulated": "the board's pinned TFLM library's kernels on the emulated CPU, transport, "
    "firmware core and tensor packing",
    "real": "everything: the board's TFLM library, compiler and CPU, transport, firmware core "
    "and tensor packing",
}


def board_kind(board) -> str:
    """simulated, emulated or real: a driver may say so (``kind``); else its ``simulated``."""
    return getattr(board, "kind", None) or ("simulated" if board.simulated else "real")


def test_every_vector_answered(device_run, hil_vectors):
    outputs, results = device_run
    assert len(results) == len(hil_vectors)
    assert all(o.shape[0] == len(hil_vectors) for o in outputs)


def test_answers_equal_the_host_runtime_bit_for_bit(
    device_run, host_outputs, board, record_property
):
    proves = PROVES[board_kind(board)]
    record_property("bit_exact_proves", proves)
    outputs, _ = device_run
    for k, (dev, host) in enumerate(zip(outputs, host_outputs, strict=True)):
        dev2, host2 = dev.reshape(len(dev), -1), host.reshape(len(host), -1)
        differs = np.flatnonzero(np.any(dev2 != host2, axis=1))
        if differs.size:
            i = int(differs[0])
            pytest.fail(
                f"output {k}: {differs.size} of {len(dev)} vectors differ from the TFLM host "
                f"runtime; first at vector {i}: device {dev2[i].tolist()} host {host2[i].tolist()}"
                f" (this comparison covers {proves})"
            )
