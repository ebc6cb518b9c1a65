"""The committed fixture models: they parse, run on the TFLM host runtime and cover what they claim.

No TensorFlow here: only the harness's parser and the ``tflite-micro`` host runtime.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from tflite_micro.python.tflite_micro import runtime

from harness.tflite.model import TfliteModel

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
DIGITS = FIXTURES / "digits"
ZOO = FIXTURES / "models"
ARENA = 256 * 1024
ALL_MODELS = sorted([*ZOO.glob("*.tflite"), *DIGITS.glob("*.tflite")])

# What each zoo model is there to cover: written here, not read from the manifest the
# regenerate script writes, so a regenerated model that lost its point fails.
ZOO_OPS = {
    "conv_maxpool": {"CONV_2D", "MAX_POOL_2D", "FULLY_CONNECTED", "SOFTMAX"},
    "dwsep_avgpool": {"DEPTHWISE_CONV_2D", "CONV_2D", "AVERAGE_POOL_2D"},
    "fc_only": {"FULLY_CONNECTED"},
    "two_outputs": {"CONV_2D", "FULLY_CONNECTED", "SOFTMAX"},
    "float_io": {"QUANTIZE", "DEQUANTIZE", "CONV_2D"},
    "large_input": {"CONV_2D"},
    "large_output": {"CONV_2D"},
}
DYNAMIC_BATCH_OPS = {"SHAPE", "STRIDED_SLICE", "PACK"}


def invoke(data: bytes, inputs: list[np.ndarray]) -> list[np.ndarray]:
    interpreter = runtime.Interpreter.from_bytes(data, arena_size=ARENA)
    for i, x in enumerate(inputs):
        interpreter.set_input(x, i)
    interpreter.invoke()
    return [interpreter.get_output(i).copy() for i in range(len(TfliteModel(data).outputs))]


def random_inputs(model: TfliteModel, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out = []
    for t in model.inputs:
        if np.issubdtype(t.dtype, np.integer):
            info = np.iinfo(t.dtype)
            out.append(rng.integers(info.min, info.max, t.shape, dtype=t.dtype, endpoint=True))
        else:
            out.append(rng.random(t.shape, dtype=np.float32).astype(t.dtype))
    return out


def test_the_zoo_is_complete() -> None:
    assert {p.stem for p in ZOO.glob("*.tflite")} == set(ZOO_OPS)
    digits = {p.name for p in DIGITS.glob("*.tflite")}
    assert digits == {"digits_int8.tflite", "digits_float.tflite"}


@pytest.mark.parametrize("path", ALL_MODELS, ids=lambda p: p.name)
def test_model_parses_and_runs_on_the_tflm_host(path: Path) -> None:
    model = TfliteModel.load(path)
    assert model.ops, "a model without operators"
    assert not DYNAMIC_BATCH_OPS & set(model.op_names), "batch size is not fixed at 1"
    for t in (*model.inputs, *model.outputs):
        assert t.shape[0] == 1
    outputs = invoke(model.data, random_inputs(model))
    assert [(o.shape, o.dtype) for o in outputs] == [(t.shape, t.dtype) for t in model.outputs]


@pytest.mark.parametrize("name", sorted(ZOO_OPS))
def test_zoo_model_covers_its_case(name: str) -> None:
    model = TfliteModel.load(ZOO / f"{name}.tflite")
    ops = set(model.op_names)
    assert ZOO_OPS[name] <= ops
    assert len(model.data) < 20 * 1024
    int8 = np.dtype(np.int8)
    io = (*model.inputs, *model.outputs)
    if name == "float_io":
        assert all(t.dtype == np.float32 for t in io)
        internal = {t.index for t in io}
        activations = [t for t in model.tensors if t.index not in internal and t.scale]
        assert activations and all(t.dtype in (int8, np.dtype(np.int32)) for t in activations)
    else:
        assert all(t.dtype == int8 for t in io)
    if name == "fc_only":
        assert ops == {"FULLY_CONNECTED"} and len(model.inputs[0].shape) == 2
    if name == "two_outputs":
        assert len(model.outputs) == 2
        assert model.outputs[0].scale != model.outputs[1].scale
    if name == "large_input":
        assert model.inputs[0].nbytes > 2048
    if name == "large_output":
        assert model.outputs[0].nbytes > 1024


def test_zoo_manifest_matches_the_files() -> None:
    manifest = json.loads((ZOO / "manifest.json").read_text())
    readme = (ZOO / "README.md").read_text()
    for name, entry in manifest["models"].items():
        data = (ZOO / f"{name}.tflite").read_bytes()
        assert entry["sha256"] == hashlib.sha256(data).hexdigest(), f"{name}: stale manifest"
        assert f"`{name}.tflite`" in readme


@pytest.fixture(scope="module")
def digits() -> TfliteModel:
    return TfliteModel.load(DIGITS / "digits_int8.tflite")


@pytest.fixture(scope="module")
def vectors() -> dict[str, np.ndarray]:
    with np.load(DIGITS / "digits_vectors.npz") as npz:
        return {k: npz[k] for k in npz.files}


def test_digits_vectors_fit_the_model(digits: TfliteModel, vectors: dict[str, np.ndarray]) -> None:
    tin = digits.inputs[0]
    x, x_float, labels = vectors["x"], vectors["x_float"], vectors["labels"]
    n = len(labels)
    assert 200 <= n <= 400
    assert x.shape == (n, *tin.shape) and x.dtype == tin.dtype
    assert x_float.shape == x.shape and x_float.dtype == np.float32
    assert labels.dtype == np.int64 and set(labels.tolist()) == set(range(10))
    # x is x_float quantised with the model's own input parameters (round half away from zero).
    v = x_float.astype(np.float64) / tin.scale
    expected = np.clip(np.sign(v) * np.floor(np.abs(v) + 0.5) + tin.zero_point, -128, 127)
    np.testing.assert_array_equal(x, expected.astype(np.int8))


def test_digits_int8_accuracy_on_the_tflm_host(digits: TfliteModel,
                                               vectors: dict[str, np.ndarray]) -> None:
    interpreter = runtime.Interpreter.from_bytes(digits.data, arena_size=ARENA)
    predictions = []
    for x in vectors["x"]:
        interpreter.set_input(x, 0)
        interpreter.invoke()
        predictions.append(int(np.argmax(interpreter.get_output(0))))
    accuracy = float(np.mean(np.array(predictions) == vectors["labels"]))
    assert accuracy >= 0.93
    # The model card must describe these artifacts, not an earlier run's.
    card = json.loads((DIGITS / "model.json").read_text())
    assert card["metrics"]["int8_tflm_host_accuracy"] == pytest.approx(accuracy, abs=1e-6)
    assert card["artifacts"]["digits_int8.tflite"]["sha256"] == digits.sha256
    assert card["ops"] == digits.op_versions
