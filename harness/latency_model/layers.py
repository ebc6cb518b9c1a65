"""What the cost model needs to know of each operator: its kernel family and its sizes.

A family groups the operators whose kernels spend their instructions alike on the board's
library (the TFLM Arduino library: CMSIS-NN for convolutions, fully connected, pooling,
softmax, add and mul on Cortex-M; TFLM's reference kernels for the rest).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..tflite.model import OpInfo, TfliteModel

# Operators that move no data or copy it once: their cost is the interpreter's call.
_RESHAPES = frozenset({"RESHAPE", "SQUEEZE", "EXPAND_DIMS"})
_POOLS = frozenset({"AVERAGE_POOL_2D", "MAX_POOL_2D"})
_REDUCTIONS = frozenset({"MEAN", "SUM", "REDUCE_MAX", "REDUCE_MIN", "REDUCE_PROD"})


@dataclass(frozen=True)
class Layer:
    """One operator as the cost model sees it."""

    index: int
    op: str
    family: str
    macs: int
    outputs: int  # output elements
    inputs: int  # elements of the first input
    # convolutions: output pixels x kernel taps, the patches CMSIS-NN gathers (im2col) before
    # it multiplies; with few input channels gathering costs more than multiplying
    patches: int = 0

    def features(self) -> dict[str, float]:
        """The quantities a family's instruction count is linear in (per_op is the constant)."""
        return {"per_op": 1.0, "per_mac": self.macs, "per_output": self.outputs,
                "per_input": self.inputs, "per_patch": self.patches}  # fmt: skip


def _elems(model: TfliteModel, index: int) -> int:
    if index < 0:
        return 0
    return int(np.prod(model.tensors[index].shape, dtype=np.int64))


def family_of(model: TfliteModel, op: OpInfo) -> str:
    t = model.tensors
    if op.name == "CONV_2D" and len(op.inputs) > 1:
        _, kh, kw, _ = t[op.inputs[1]].shape
        # CMSIS-NN's 1x1 convolution is a plain matrix product (arm_convolve_1x1_s8_fast)
        return "conv_1x1" if (kh, kw) == (1, 1) else "conv"
    if op.name == "DEPTHWISE_CONV_2D" and len(op.inputs) > 1:
        in_c, out_c = t[op.inputs[0]].shape[-1], t[op.inputs[1]].shape[-1]
        # a channel multiplier above 1 leaves CMSIS-NN's fast paths for its generic loop
        return "depthwise" if in_c == out_c else "depthwise_multiplier"
    if op.name == "FULLY_CONNECTED":
        return "fully_connected"
    if op.name in _POOLS:
        return "pool"
    if op.name in _REDUCTIONS:
        return "reduce"
    if op.name == "SOFTMAX":
        return "softmax"
    if op.name in _RESHAPES:
        return "reshape"
    return "elementwise"


def _patches(model: TfliteModel, op: OpInfo) -> int:
    if op.name not in ("CONV_2D", "DEPTHWISE_CONV_2D") or len(op.inputs) < 2 or not op.outputs:
        return 0
    out, kernel = model.tensors[op.outputs[0]].shape, model.tensors[op.inputs[1]].shape
    return out[1] * out[2] * kernel[1] * kernel[2]


def layers(model: TfliteModel) -> list[Layer]:
    """Every operator of the model, in execution order."""
    return [
        Layer(
            index=i,
            op=op.name,
            family=family_of(model, op),
            macs=op.macs,
            outputs=_elems(model, op.outputs[0]) if op.outputs else 0,
            inputs=_elems(model, op.inputs[0]) if op.inputs else 0,
            patches=_patches(model, op),
        )
        for i, op in enumerate(model.ops)
    ]
