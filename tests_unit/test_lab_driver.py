"""The labgrid board's flash stage, with a place and a firmware prober standing in: flash on the
exporter only when the board runs another image, check the image after flashing, never
"flash" a twin, and give the place back (and SIGTERM's handler) on close."""

from __future__ import annotations

import signal
from dataclasses import dataclass, field

import pytest

from harness.boards.catalog import load_catalog
from harness.boards.driver import DriverOptions, Image
from harness.errors import FlashError
from harness.lab import driver as lab_driver
from harness.lab.driver import LabgridDriver
from harness.lab.place import PlaceBoard
from harness.pio.probe import Probe
from harness.provenance import Provenance

NANO33 = load_catalog()["nano33"]
WANT = "a" * 64


@dataclass
class FakePlace:
    urls: list[str] = field(default_factory=lambda: ["rfc2217://lab:4001?ign_set_control"])
    held: bool = True
    released: int = 0

    def serial_url(self) -> str:
        return self.urls.pop(0) if len(self.urls) > 1 else self.urls[0]

    def exporter_resource(self) -> dict:
        return {"host": "bench1", "port": 4001, "extra": {"path": "/dev/ttyACM3"}}

    def release(self) -> None:
        self.released += 1
        self.held = False


def _driver(monkeypatch, answers: list[str | None], *, simulated=False, **options):
    place, flashed, asked = FakePlace(), [], []

    def probe(url: str, rate: float) -> Probe:
        asked.append(url)
        h = answers.pop(0)
        return Probe(h, f"image {h[:12]}" if h else "no tflm-hil firmware answering")

    monkeypatch.setattr(lab_driver, "probe_image", probe)
    driver = LabgridDriver(
        NANO33,
        DriverOptions(place="nano33-a", **options),
        PlaceBoard("nano33-a", "nano33", simulated),
        progress=lambda line: None,
        acquire=lambda name, **kw: place,
        flasher=lambda host, port, image, progress: flashed.append((host, port)),
    )
    return driver, place, flashed, asked


def _image(digits_model) -> Image:
    return Image(NANO33, digits_model, WANT, 7408, 1, 1, Provenance.MEASURED)


def test_board_running_the_image_is_not_flashed(monkeypatch, digits_model):
    driver, place, flashed, _ = _driver(monkeypatch, [WANT])
    device = driver.flash(_image(digits_model))
    assert flashed == [] and device.port.startswith("rfc2217://lab:4001")
    assert driver.instance == "labgrid:nano33-a"
    driver.close()
    assert place.released == 1


def test_stale_board_is_flashed_on_its_exporter_then_checked_on_the_new_port(
    monkeypatch, digits_model
):
    driver, place, flashed, asked = _driver(monkeypatch, ["b" * 64, WANT])
    place.urls = ["rfc2217://lab:4001?ign_set_control", "rfc2217://lab:4002?ign_set_control"]
    device = driver.flash(_image(digits_model))
    assert flashed == [("bench1", "/dev/ttyACM3")]
    assert asked[-1] == device.port == "rfc2217://lab:4002?ign_set_control"  # read again


def test_a_flash_that_did_not_take_is_a_flash_failure(monkeypatch, digits_model):
    driver, *_ = _driver(monkeypatch, ["b" * 64, "b" * 64])
    with pytest.raises(FlashError, match=r"after flashing, labgrid place nano33-a .* image bbbb"):
        driver.flash(_image(digits_model))


def test_no_flash_refuses_a_stale_board_and_a_twin_is_never_flashed(monkeypatch, digits_model):
    driver, _, flashed, _ = _driver(monkeypatch, ["b" * 64], no_flash=True)
    with pytest.raises(FlashError, match="--no-flash"):
        driver.flash(_image(digits_model))
    twin, _, flashed, _ = _driver(monkeypatch, ["b" * 64], simulated=True)
    with pytest.raises(FlashError, match="a twin is not flashed through a lab"):
        twin.flash(_image(digits_model))
    assert flashed == []
    assert twin.simulated and twin.provenance is Provenance.ESTIMATED and not twin.pinned_library


def test_close_releases_the_place_and_restores_sigterm(monkeypatch, digits_model):
    before = signal.getsignal(signal.SIGTERM)
    driver, place, *_ = _driver(monkeypatch, [WANT])
    driver.flash(_image(digits_model))
    assert signal.getsignal(signal.SIGTERM) is lab_driver._raise_interrupt  # while held
    driver.close()
    driver.close()  # idempotent
    assert place.released == 1
    assert signal.getsignal(signal.SIGTERM) == before
