"""Writes digits_calibration.npz: the 500 training samples the example model was calibrated on.

    python matrix/data/make_digits_calibration.py      (needs scikit-learn)

The same split and selection as fixtures/digits/regenerate.py, so a converter cell given the
converter that made fixtures/digits/digits_int8.tflite reproduces that file byte for byte;
stored so that converter environments need neither scikit-learn nor the training data.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REGENERATE = HERE.parents[1] / "fixtures" / "digits" / "regenerate.py"


def main() -> None:
    spec = importlib.util.spec_from_file_location("digits_regenerate", REGENERATE)
    assert spec and spec.loader
    regen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(regen)
    x_train, *_ = regen.load_data()
    rng = np.random.default_rng(regen.SEED)
    calibration = x_train[rng.permutation(len(x_train))[: regen.CALIBRATION_SAMPLES]]
    np.savez_compressed(HERE / "digits_calibration.npz", x=calibration.astype(np.float32))
    print(f"wrote {len(calibration)} samples of shape {calibration.shape[1:]}")


if __name__ == "__main__":
    main()
