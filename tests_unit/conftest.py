"""Shared fixtures of the unit tests: example models and a simulated board to talk to."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import serial

from harness.model.tflite_info import TfliteModel
from harness.protocol.client import DeviceClient
from harness.sim.launcher import TwinProcess, start_twin

REPO = Path(__file__).resolve().parents[1]
DIGITS_MODEL = REPO / "fixtures" / "digits" / "digits_int8.tflite"
DIGITS_VECTORS = REPO / "fixtures" / "digits" / "digits_vectors.npz"
DIGITS_KERAS = REPO / "fixtures" / "digits" / "digits.keras"
DIGITS_FLOAT_TFLITE = REPO / "fixtures" / "digits" / "digits_float.tflite"
ZOO = REPO / "fixtures" / "models"
# The 500 training samples the example model was calibrated on
# (matrix/data/make_digits_calibration.py)
DIGITS_CALIBRATION = REPO / "matrix" / "data" / "digits_calibration.npz"


@pytest.fixture(scope="session")
def digits_model() -> TfliteModel:
    return TfliteModel.load(DIGITS_MODEL)


@pytest.fixture(scope="session")
def digits_per_channel(tmp_path_factory) -> Path:
    """The example model converted with per-channel dense layers, as TFLiteConverter does by
    default: what the 2023 Arduino TFLM library computes wrong. Converted once per TensorFlow
    version and cached (the conversion is deterministic for one TensorFlow)."""
    import numpy as np

    from harness.model.cache import cached, file_digest, package_version
    from harness.model.convert import convert_int8, quiet_tensorflow
    from harness.paths import cache_dir

    def convert() -> list[np.ndarray]:
        quiet_tensorflow()
        with np.load(DIGITS_CALIBRATION) as data:
            samples = data["x"]
        tflite = convert_int8(DIGITS_KERAS, samples, per_channel_dense=True)
        return [np.frombuffer(tflite, dtype=np.uint8)]

    key = [file_digest(p) for p in (DIGITS_KERAS, DIGITS_CALIBRATION)]
    key.append(package_version("tensorflow-cpu", "tensorflow"))
    (data,), _ = cached("digits-per-channel", key, convert, root=cache_dir() / "models")
    path = tmp_path_factory.mktemp("models") / "digits_per_channel.tflite"
    path.write_bytes(data.tobytes())
    return path


@pytest.fixture(scope="module")
def twin() -> Iterator[TwinProcess]:
    """The Nano 33 BLE twin running the digits model."""
    with start_twin("nano33", DIGITS_MODEL) as tw:
        yield tw


def connect(port: str, byte_rate: float, **kw) -> DeviceClient:
    link = serial.Serial(port, timeout=0.05)
    link.reset_input_buffer()
    return DeviceClient(link, byte_rate=byte_rate, **kw)


@pytest.fixture
def client(twin: TwinProcess) -> Iterator[DeviceClient]:
    c = connect(twin.port, 64_000, reply_timeout=0.3)
    c.hello()
    yield c
    c.close()
    c.link.close()  # type: ignore[attr-defined]
