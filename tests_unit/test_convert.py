"""harness.model.convert: a tiny Keras model through int8 and float conversion, and loading."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from harness.errors import ConfigError
from harness.tflite.model import TfliteModel

INPUT_SHAPE = (1, 6, 6, 1)


def test_import_loads_no_tensorflow() -> None:
    # A fresh interpreter: this test process may already hold TensorFlow from other tests.
    code = (
        "import sys, harness.model.convert\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, timeout=60)
    assert result.stdout.strip() == "[]"


def test_wrong_file_kind_is_refused_before_tensorflow_loads(tmp_path: Path) -> None:
    from harness.model.convert import load_keras

    with pytest.raises(ConfigError, match="not a Keras model file"):
        load_keras(tmp_path / "model.tflite")
    with pytest.raises(ConfigError, match="does not exist"):
        load_keras(tmp_path / "missing.keras")


@pytest.fixture(scope="module")
def tiny() -> Any:
    """Conv, flatten, dense, softmax on a 6x6 input; seeded random weights."""
    from harness.model.convert import quiet_tensorflow

    quiet_tensorflow()  # ./dev installs the tf extra: a missing TensorFlow fails, never skips
    import keras

    from harness.model.convert import seed_everything

    seed_everything(7)
    inputs = keras.Input(INPUT_SHAPE[1:], batch_size=1)
    x = keras.layers.Conv2D(2, 3, padding="same", activation="relu")(inputs)
    x = keras.layers.Flatten()(x)
    outputs = keras.layers.Softmax()(keras.layers.Dense(3)(x))
    return keras.Model(inputs, outputs)


@pytest.fixture(scope="module")
def samples() -> np.ndarray:
    return np.random.default_rng(7).random((32, *INPUT_SHAPE[1:]), dtype=np.float32)


@pytest.fixture(scope="module")
def int8_model(tiny: Any, samples: np.ndarray) -> bytes:
    from harness.model.convert import convert_int8

    return convert_int8(tiny, samples)


def run_tflm(data: bytes, x: np.ndarray) -> tuple[np.ndarray, Any, Any]:
    """Output of one inference on the TFLM host runtime, and the runtime's I/O dtypes."""
    from tflite_micro.python.tflite_micro import runtime

    interpreter = runtime.Interpreter.from_bytes(data, arena_size=64 * 1024)
    interpreter.set_input(x, 0)
    interpreter.invoke()
    return (interpreter.get_output(0).copy(), interpreter.get_input_details(0)["dtype"],
            interpreter.get_output_details(0)["dtype"])


def test_int8_has_only_the_models_ops_all_integer(int8_model: bytes) -> None:
    model = TfliteModel(int8_model)
    # Batch 1 fixed: no SHAPE/STRIDED_SLICE/PACK for a dynamic batch; full int8: no QUANTIZE.
    assert model.op_names == ["CONV_2D", "RESHAPE", "FULLY_CONNECTED", "SOFTMAX"]
    assert [t.dtype for t in (*model.inputs, *model.outputs)] == [np.dtype(np.int8)] * 2
    assert model.inputs[0].shape == INPUT_SHAPE
    assert not any(t.dtype == np.float32 for t in model.tensors)


def test_int8_agrees_with_keras_on_the_tflm_host(tiny: Any, int8_model: bytes,
                                                 samples: np.ndarray) -> None:
    model = TfliteModel(int8_model)
    tin, tout = model.inputs[0], model.outputs[0]
    x = samples[:1]
    q = np.clip(np.round(x / tin.scale) + tin.zero_point, -128, 127).astype(np.int8)
    out, in_dtype, out_dtype = run_tflm(int8_model, q.reshape(INPUT_SHAPE))
    assert (in_dtype, out_dtype) == (np.int8, np.int8)
    got = (out.astype(np.float64) - tout.zero_point) * tout.scale
    want = tiny.predict(x, verbose=0)
    # A softmax over 3 classes: a few output steps (1/256 each) of quantisation error at most.
    np.testing.assert_allclose(got, want, atol=8 * tout.scale)


def test_int8_with_float_io_quantizes_at_the_edges(tiny: Any, samples: np.ndarray) -> None:
    from harness.model.convert import convert_int8

    data = convert_int8(tiny, samples, int8_io=False)
    out, in_dtype, out_dtype = run_tflm(data, samples[:1].reshape(INPUT_SHAPE))
    assert (in_dtype, out_dtype) == (np.float32, np.float32)
    ops = TfliteModel(data).op_names
    assert ops[0] == "QUANTIZE" and ops[-1] == "DEQUANTIZE"
    assert out.shape == (1, 3)


def test_float_conversion_matches_keras(tiny: Any, samples: np.ndarray) -> None:
    from harness.model.convert import convert_float

    data = convert_float(tiny)
    out, in_dtype, out_dtype = run_tflm(data, samples[:1].reshape(INPUT_SHAPE))
    assert (in_dtype, out_dtype) == (np.float32, np.float32)
    np.testing.assert_allclose(out, tiny.predict(samples[:1], verbose=0), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_saved_model_file_converts_like_the_model(tiny: Any, int8_model: bytes,
                                                  samples: np.ndarray, tmp_path: Path,
                                                  suffix: str) -> None:
    from harness.model.convert import convert_int8

    path = tmp_path / f"tiny{suffix}"
    tiny.save(path)
    data = convert_int8(path, samples)
    # Tensor names differ after a reload, so the bytes do; the computation must not.
    a, b = TfliteModel(data), TfliteModel(int8_model)
    assert a.op_versions == b.op_versions
    qa, qb = a.inputs[0], b.inputs[0]
    assert (qa.scale, qa.zero_point) == (qb.scale, qb.zero_point)
    x = np.arange(-128, 128, 7, dtype=np.int8)[: np.prod(INPUT_SHAPE)].reshape(INPUT_SHAPE)
    np.testing.assert_array_equal(run_tflm(data, x)[0], run_tflm(int8_model, x)[0])


def test_representative_of_the_wrong_shape_or_with_nan_is_refused(tiny: Any,
                                                                   samples: np.ndarray) -> None:
    from harness.model.convert import convert_int8

    with pytest.raises(ConfigError, match="shape"):
        convert_int8(tiny, samples[:, :4])
    bad = samples.copy()
    bad[0, 0, 0, 0] = np.nan
    with pytest.raises(ConfigError, match="not finite"):
        convert_int8(tiny, bad)


def test_dense_layers_are_per_tensor_unless_asked(tiny: Any, samples: np.ndarray,
                                                  int8_model: bytes) -> None:
    """The Arduino TFLM library runs per-channel FULLY_CONNECTED with one scale (wrong answers,
    no error): by default dense weights are per tensor; convolutions stay per channel."""

    def weights_per_channel(data: bytes) -> dict[str, bool]:
        m = TfliteModel(data)
        return {op.name: m.tensors[op.inputs[1]].per_channel for op in m.ops
                if op.name in ("CONV_2D", "FULLY_CONNECTED")}

    from harness.model.convert import convert_int8

    assert weights_per_channel(int8_model) == {"CONV_2D": True, "FULLY_CONNECTED": False}
    per_channel = convert_int8(tiny, samples, per_channel_dense=True)
    assert weights_per_channel(per_channel) == {"CONV_2D": True, "FULLY_CONNECTED": True}
