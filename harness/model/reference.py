"""The float references the device is judged against (the bit-exact one, the TFLM host
runtime, is harness/tflite/runtime.py).

- ``FloatReference``: the float model the int8 one came from (Keras ``.keras``/``.h5``, or a
  float ``.tflite`` run on the TFLM host runtime): agreement is judged with tolerances.
TensorFlow is imported only when a Keras model is loaded.
"""

from __future__ import annotations

import abc
import logging
from pathlib import Path

import numpy as np

from ..errors import ConfigError
from ..tflite.model import TfliteModel
from ..tflite.runtime import HostTflm
from ..tflite.vectors import Vectors

log = logging.getLogger(__name__)


class FloatReference(abc.ABC):
    """A float model run on the host in batches; outputs are (N, ...) arrays per output."""

    def __init__(self, path: Path):
        self.path = path

    @staticmethod
    def load(path: str | Path) -> FloatReference:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"reference model {p} does not exist: pass --reference PATH")
        if p.suffix in (".keras", ".h5"):
            return KerasReference(p)
        if p.suffix == ".tflite":
            return TfliteFloatReference(p)
        raise ConfigError(
            f"reference {p} is neither a Keras model (.keras, .h5) nor a float .tflite"
        )

    @abc.abstractmethod
    def run(self, inputs: tuple[np.ndarray, ...]) -> list[np.ndarray]: ...


class KerasReference(FloatReference):
    BATCH = 256

    def __init__(self, path: Path):
        super().__init__(path)
        from .convert import load_keras  # imports TensorFlow

        self.keras = load_keras(path)

    def run(self, inputs: tuple[np.ndarray, ...]) -> list[np.ndarray]:
        n = inputs[0].shape[0]
        # TFLite shapes carry the batch of 1: (N, 1, ...) becomes Keras's (N, ...)
        feed = [
            x.reshape((n, *x.shape[2:])) if x.ndim > 1 and x.shape[1] == 1 else x for x in inputs
        ]
        try:
            # Models for microcontrollers fix the batch at 1, yet most run in batches when
            # called directly: ~20x faster than predict() one vector at a time.
            parts = [
                self._call([x[i : i + self.BATCH] for x in feed]) for i in range(0, n, self.BATCH)
            ]
            return [np.concatenate([p[k] for p in parts]) for k in range(len(parts[0]))]
        except (ValueError, TypeError) as exc:  # a layer that needs the declared batch size
            log.info("batched float reference failed (%s); one vector at a time", exc)
        batch = self.keras.inputs[0].shape[0] or self.BATCH
        out = self.keras.predict(feed if len(feed) > 1 else feed[0], batch_size=batch, verbose=0)
        return [np.asarray(o) for o in (out if isinstance(out, list) else [out])]

    def _call(self, feed: list[np.ndarray]) -> list[np.ndarray]:
        out = self.keras(feed if len(feed) > 1 else feed[0], training=False)
        return [np.asarray(o) for o in (out if isinstance(out, list | tuple) else [out])]


class TfliteFloatReference(FloatReference):
    def __init__(self, path: Path):
        super().__init__(path)
        self.model = TfliteModel.load(path)
        if self.model.is_quantized:
            raise ConfigError(
                f"reference {path} has integer inputs/outputs: the float reference must be the "
                "float model (a .keras/.h5, or a .tflite converted without quantisation)"
            )
        self._host = HostTflm(self.model)

    def run(self, inputs: tuple[np.ndarray, ...]) -> list[np.ndarray]:
        return self._host.run(tuple(x.astype(np.float32) for x in inputs))


def reference_outputs(
    ref: FloatReference, vectors: Vectors, model: TfliteModel
) -> list[np.ndarray]:
    return ref.run(vectors.float_inputs(model))


def align_outputs(outs: list[np.ndarray], model: TfliteModel) -> list[np.ndarray]:
    """Orders a float model's outputs as the .tflite's: the converter may reorder them (a
    two-output Keras model can come out reversed), so match by size when sizes are distinct."""
    sizes = [int(np.prod(t.shape)) for t in model.outputs]
    if len(outs) != len(sizes):
        raise ConfigError(
            f"the float reference has {len(outs)} outputs, the .tflite {len(sizes)}: "
            "pass the float model this .tflite was converted from"
        )
    got = [int(np.prod(o.shape[1:])) for o in outs]
    if len(set(sizes)) == len(sizes) and sorted(got) == sorted(sizes):
        return [outs[got.index(n)] for n in sizes]
    return outs
