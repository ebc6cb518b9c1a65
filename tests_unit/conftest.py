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


@pytest.fixture(scope="session")
def digits_model() -> TfliteModel:
    return TfliteModel.load(DIGITS_MODEL)


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
