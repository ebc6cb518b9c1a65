"""Known numeric gaps of a pinned TFLM library for a given model, found before anything is built.

Each rule names a TFLM ref (the Arduino library's git commit) and a model feature that ref gets
wrong without an error. They were measured: the firmware's backend built with that library,
run on QEMU and compared with the TFLM host runtime (docs/firmware.md).
"""

from __future__ import annotations

from ..model.tflite_info import TfliteModel
from .pins import Pins

# tflite-micro-arduino-examples at its last commit: TFLM synced 2023-02-27. Its
# FULLY_CONNECTED applies one scale to per-channel quantized weights: outputs drift with the
# spread of the channel scales (digits: up to 62 steps after softmax; 1.003 spread: exact).
PER_TENSOR_FC_ONLY = {"7948b85e020470a30a83bf00e10fc43b486bfcba"}


def per_channel_fc(model: TfliteModel) -> bool:
    tensors = model.tensors
    return any(
        op.name == "FULLY_CONNECTED"
        and len(op.inputs) > 1
        and op.inputs[1] >= 0
        and tensors[op.inputs[1]].per_channel
        for op in model.ops
    )


def compat_warnings(model: TfliteModel, pins: Pins) -> list[str]:
    warnings = []
    if pins.tflm_ref in PER_TENSOR_FC_ONLY and per_channel_fc(model):
        warnings.append(
            f"{model.source} has per-channel quantized FULLY_CONNECTED weights, which the TFLM "
            f"library at {pins.tflm_ref[:12]} runs with one scale: its outputs will differ "
            "from the TFLM host runtime. Convert with per-tensor dense quantization "
            "(converter._experimental_disable_per_channel_quantization_for_dense_layers = True) "
            "or pin a TFLM that supports it"
        )
    return warnings
