"""Shared fixtures of the unit tests: example models, and devices to talk to: the simulated
twin, and the protocol-only image on QEMU (the same core as real ARM machine code)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import serial

from harness.boards.catalog import load_catalog
from harness.emu import protocol_image
from harness.emu.driver import LINK_BYTES_PER_S
from harness.protocol.client import DeviceClient
from harness.sim.launcher import TwinProcess, start_twin
from harness.tflite.model import TfliteModel
from harness.tflite.runtime import HostTflm

REPO = Path(__file__).resolve().parents[1]
DIGITS_MODEL = REPO / "fixtures" / "digits" / "digits_int8.tflite"
DIGITS_VECTORS = REPO / "fixtures" / "digits" / "digits_vectors.npz"
DIGITS_KERAS = REPO / "fixtures" / "digits" / "digits.keras"
DIGITS_FLOAT_TFLITE = REPO / "fixtures" / "digits" / "digits_float.tflite"
ZOO = REPO / "fixtures" / "models"
# The 500 training samples the example model was calibrated on
# (fixtures/digits/make_calibration.py)
DIGITS_CALIBRATION = REPO / "harness" / "apps" / "matrix" / "data" / "digits_calibration.npz"


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


@dataclass
class Device:
    """A device speaking the protocol, and what the tests need to know of it."""

    name: str
    port: str
    byte_rate: float
    reply_timeout: float  # for a client that must not resend without a fault
    reboot: Callable[[], None]  # as a watchdog would
    input_shape: tuple[int, ...]  # of one vector, int8
    truth: Callable[[np.ndarray], list[bytes]]  # int8 vectors (N, *input_shape) -> answers


def _protocol_image_truth(xs: np.ndarray) -> list[bytes]:
    return [protocol_image.expected_output(x).tobytes() for x in xs]


@pytest.fixture(scope="module", params=["twin", "qemu"])
def device(request, digits_model, tmp_path_factory) -> Iterator[Device]:
    """The twin with the digits model, then the protocol-only image on QEMU (Cortex-M4)."""
    if request.param == "twin":
        def host(xs: np.ndarray) -> list[bytes]:
            return [y.tobytes() for y in HostTflm(digits_model).run((xs,))[0]]

        shape = digits_model.inputs[0].shape
        with start_twin("nano33", DIGITS_MODEL) as tw:
            yield Device("twin", tw.port, 64_000, 0.3, tw.reboot, shape, host)
        return
    spec = load_catalog()["nano33"]
    log = tmp_path_factory.mktemp("qemu") / "qemu.log"
    with protocol_image.start_protocol_device(spec, log) as qemu:
        # QEMU shares two CPUs with the rest of the suite: it may stall for a while
        yield Device(
            "qemu", qemu.port, LINK_BYTES_PER_S, 2.0, qemu.reset, protocol_image.INPUT_SHAPE,
            _protocol_image_truth,
        )  # fmt: skip


def connect(port: str, byte_rate: float, **kw) -> DeviceClient:
    link = serial.Serial(port, timeout=0.05)
    link.reset_input_buffer()
    return DeviceClient(link, byte_rate=byte_rate, **kw)


@pytest.fixture
def client(device: Device) -> Iterator[DeviceClient]:
    c = connect(device.port, device.byte_rate, reply_timeout=device.reply_timeout)
    c.hello()
    yield c
    c.close()
    c.link.close()  # type: ignore[attr-defined]
