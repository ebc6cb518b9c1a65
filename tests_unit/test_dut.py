"""The device under test over real devices: the driver owns the link (the Dut never closes it),
and ``Dut.reboot`` resets the device through the driver's reset line (the twin's signal, QEMU's
system_reset), or through the protocol's RESET where the board kind has none, and handshakes
with the new boot."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from harness.boards.catalog import load_catalog
from harness.boards.driver import Device, DriverOptions
from harness.dut import Dut, open_dut
from harness.emu.driver import QemuDriver
from harness.errors import FlashError
from harness.firmware.library import fetch_command, find_library
from harness.firmware.pins import resolve_pins
from harness.paths import cache_dir
from harness.sim.driver import SimDriver
from harness.tflite.model import TfliteModel

from .tiny_tflite import tiny_model

SPEC = load_catalog()["nano33"]
REF = resolve_pins().tflm_ref


class NoResetLine(SimDriver):
    """A board kind with no reset line of its own (a board on USB CDC)."""

    def reboot(self, device: Device) -> bool:
        return False


@pytest.fixture
def driver(tmp_path) -> Iterator[SimDriver]:
    d = SimDriver(SPEC, DriverOptions(log_dir=tmp_path))
    yield d
    d.close()


def _vector(dut: Dut) -> np.ndarray:
    t = dut.info.inputs[0]
    return np.arange(t.nbytes, dtype=np.int64).astype(t.dtype).reshape(t.shape)


def test_the_driver_owns_the_link(driver, digits_model: TfliteModel):
    dut = open_dut(driver, digits_model)
    link = driver.link(dut.device)
    assert link is dut.client.link  # one link, opened once
    dut.close()
    assert link.is_open  # the Dut closed its client, not the driver's link
    twin = driver.twin
    driver.close()
    assert not link.is_open and driver.twin is None and twin.proc.poll() is not None
    driver.close()  # again: nothing left to close


def test_a_new_flash_gets_a_new_link(driver, digits_model: TfliteModel):
    device = driver.flash(driver.build(digits_model))
    first = driver.link(device)
    second = driver.link(driver.flash(device.image))
    assert second is not first and not first.is_open and second.is_open


def test_a_failed_handshake_closes_the_link(driver, digits_model: TfliteModel):
    image = driver.build(digits_model)
    driver.build = lambda model: image  # the image of another model: a stale board
    with pytest.raises(FlashError, match="stale or wrong image"):
        open_dut(driver, tiny_model(["CONV_2D", "SOFTMAX"]))
    assert driver._link is None


def quiet_qemu(spec, options):
    return QemuDriver(spec, options, progress=lambda _: None)


emulated = pytest.param(
    quiet_qemu,
    id="qemu",
    marks=pytest.mark.skipif(
        find_library(REF) is None,
        reason=f"the TFLM library at {REF[:12]} is not in {cache_dir()}: "
        f"run `{fetch_command(REF)}`",
    ),
)


@pytest.mark.parametrize(
    "kind",
    [pytest.param(SimDriver, id="twin"), pytest.param(NoResetLine, id="protocol-reset"), emulated],
)
def test_reboot_starts_a_new_boot_and_the_device_still_answers(kind, tmp_path, digits_model):
    driver = kind(SPEC, DriverOptions(log_dir=tmp_path))
    try:
        dut = open_dut(driver, digits_model)
        x = _vector(dut)
        before = dut.infer(x)[0]
        old = dut.info.boot_id
        info = dut.reboot()
        assert info.boot_id != old and dut.info is info
        (event,) = [e for e in dut.events if e.kind == "reboot"]
        how = "protocol RESET" if kind is NoResetLine else "reset line"
        assert event.detail == f"{how}: boot {old} -> {info.boot_id}"
        assert np.array_equal(dut.infer(x)[0], before)  # the same model, answering again
        dut.close()
    finally:
        driver.close()
