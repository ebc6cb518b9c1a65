"""Which MicroMutableOpResolver method registers each operator of a model (data/tflm_ops.toml)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources

from ..errors import ConfigError
from ..tflite.model import TfliteModel


@dataclass(frozen=True)
class OpMap:
    builtin: dict[str, str]
    custom: dict[str, str]

    def method(self, op_name: str) -> str | None:
        return self.builtin.get(op_name) or self.custom.get(op_name)


@cache
def load_opmap() -> OpMap:
    text = resources.files("harness").joinpath("data/tflm_ops.toml").read_text()
    data = tomllib.loads(text)
    return OpMap(builtin=dict(data.get("builtin", {})), custom=dict(data.get("custom", {})))


def resolver_methods(model: TfliteModel, opmap: OpMap | None = None) -> list[tuple[str, str]]:
    """(operator, method) for each distinct operator of the model, in first-use order."""
    opmap = opmap or load_opmap()
    pairs, missing = [], []
    for name in model.op_names:
        method = opmap.method(name)
        if method is None:
            missing.append(name)
        else:
            pairs.append((name, method))
    if missing:
        raise ConfigError(
            f"{model.source} uses {', '.join(missing)}, which the firmware's op resolver map "
            "(harness/data/tflm_ops.toml) does not know: add the MicroMutableOpResolver method "
            "for it there if TFLM has a kernel, else the model cannot run on TFLM"
        )
    return pairs
