"""PioDriver end to end with a fake bench: fake ports, a fake `pio` runner that links a real ELF,
and a fake board that re-enumerates. Covers fail-fast discovery, build caching, size checks,
the reflash decision, the 1200-baud touch path, and verification after upload."""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from harness import runlog
from harness.boards.catalog import load_catalog
from harness.boards.driver import DriverOptions
from harness.boards.locking import BoardBusy
from harness.errors import BuildError, ConfigError, FlashError, LinkError
from harness.firmware.codegen import IMAGE_HEADER
from harness.pio.driver import PioDriver
from harness.pio.probe import Probe, harness_touches, must_flash
from harness.provenance import Provenance

from .arm_elf import build_elf
from .test_discovery import FakePort
from .tiny_tflite import tiny_model

CATALOG = load_catalog()
OLD_IMAGE = "ab" * 32


@dataclass
class Bench:
    """One board on a USB bus, and the `pio` that builds and uploads for it."""

    spec_id: str
    elf: Path
    serial: str = "SN0001"
    image: str | None = OLD_IMAGE  # what the firmware on the board reports
    ports: list[FakePort] = field(default_factory=list)
    commands: list[list[str]] = field(default_factory=list)
    envs: list[dict] = field(default_factory=list)
    touched: list[str] = field(default_factory=list)
    come_back: bool = True  # the board re-enumerates after an upload
    upload_takes: bool = True
    build_output: list[str] = field(default_factory=list)
    build_rc: int = 0
    now: float = 0.0
    _next_tty: int = 1

    def __post_init__(self) -> None:
        self.spec = CATALOG[self.spec_id]
        self.ports = [self._port("app")]

    def _port(self, role: str) -> FakePort:
        usb = self.spec.usb_app if role == "app" else self.spec.usb_bootloader
        vid, pid = (int(x, 16) for x in usb.split(":"))
        device = f"/dev/ttyACM{self._next_tty - 1}"
        self._next_tty += 1
        return FakePort(device, vid, pid, self.serial, product=self.spec.name)

    def list_ports(self) -> list[FakePort]:
        return list(self.ports)

    def probe(self, port: str, rate: float) -> Probe:
        app_pid = int(self.spec.usb_app[5:], 16)
        if not [p for p in self.ports if p.device == port and p.pid == app_pid]:
            return Probe(None, "a port that does not open")
        if self.image is None:
            return Probe(None, "no tflm-hil firmware answering")
        return Probe(self.image, f"image {self.image[:12]}")

    def touch(self, port: str) -> None:
        self.touched.append(port)
        self.ports = [self._port("bootloader")]  # re-enumerates under a new name

    def run(self, cmd, env, log_path, on_line, timeout) -> int:
        self.commands.append(list(cmd))
        self.envs.append(dict(env))
        project = Path(cmd[cmd.index("-d") + 1])
        name = cmd[cmd.index("-e") + 1]
        if "upload" in cmd:
            self.ports = []
            if self.upload_takes:
                header = (project / IMAGE_HEADER).read_text()
                self.image = re.search(r'HIL_IMAGE_HASH_HEX "(\w+)"', header).group(1)
            if self.come_back:
                self.ports = [self._port("app")]
            return 0
        for line in self.build_output:
            on_line(line)
        if self.build_rc == 0:
            out = project / ".pio" / "build" / name / "firmware.elf"
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(self.elf, out)
        return self.build_rc

    def sleep(self, s: float) -> None:
        self.now += s

    def clock(self) -> float:
        return self.now

    def driver(self, tmp_path: Path, **options) -> PioDriver:
        opts = DriverOptions(arena=4096, log_dir=tmp_path / "logs", lock_timeout=0.2, **options)
        cache = tmp_path / "cache"
        return PioDriver(self.spec, opts, rig=self, cache=cache, progress=lambda _: None)

    @property
    def builds(self) -> list[list[str]]:
        return [c for c in self.commands if "upload" not in c]

    @property
    def uploads(self) -> list[list[str]]:
        return [c for c in self.commands if "upload" in c]


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, tmp_path):
    monkeypatch.delenv("HIL_TFLM_REF", raising=False)
    monkeypatch.delenv("HIL_ARDUINO_CORE", raising=False)
    monkeypatch.setenv("TFLM_HIL_LOCK_DIR", str(tmp_path / "locks"))


@pytest.fixture(scope="module")
def elf(tmp_path_factory) -> Path:
    return build_elf(tmp_path_factory.mktemp("elf"), model=2000, arena=5000)


MODEL = tiny_model(["CONV_2D", "SOFTMAX"])


def test_no_board_attached_fails_before_any_build(tmp_path, elf):
    bench = Bench("nano33", elf)
    bench.ports = [FakePort("/dev/ttyUSB0", 0x0403, 0x6001, "FT1")]
    with pytest.raises(LinkError) as err:
        bench.driver(tmp_path).build(MODEL)
    assert "nano33" in str(err.value) and "/dev/ttyUSB0" in str(err.value)
    assert "--board=sim:nano33" in str(err.value)
    assert bench.commands == []


def test_build_then_cache(tmp_path, elf):
    bench = Bench("nano33", elf)
    image = bench.driver(tmp_path).build(MODEL)
    assert len(bench.builds) == 1
    cmd, env = bench.builds[0], bench.envs[0]
    assert cmd[-5:] == ["run", "-e", "nano33ble", "-d", image.extra["project"]]
    assert env["HIL_TFLM_REF"] == "7948b85e020470a30a83bf00e10fc43b486bfcba"
    assert env["HIL_ARDUINO_CORE"] == "4.5.0"
    assert image.path and image.path.is_file() and image.provenance is Provenance.MEASURED
    assert (image.flash_bytes, image.ram_bytes) == (2000 + 52, 5000 + 8)  # read from the ELF
    assert image.image_hash in (Path(image.extra["project"]) / IMAGE_HEADER).read_text()
    again = bench.driver(tmp_path).build(MODEL)  # same inputs: the cached build is reused
    assert again.image_hash == image.image_hash and len(bench.builds) == 1
    other = bench.driver(tmp_path).build(tiny_model(["CONV_2D", "SOFTMAX"], seed=2))
    assert other.image_hash != image.image_hash and len(bench.builds) == 2


def test_an_edited_cached_copy_is_rebuilt(tmp_path, elf):
    bench = Bench("nano33", elf)
    image = bench.driver(tmp_path).build(MODEL)
    main = Path(image.extra["project"]) / "src" / "app" / "main.cpp"
    main.write_text(main.read_text() + "\n// edited\n")
    bench.driver(tmp_path).build(MODEL)
    assert len(bench.builds) == 2
    assert "// edited" not in main.read_text()  # the copy was regenerated from the sources


def test_a_firmware_too_big_for_the_board_is_refused_before_flashing(tmp_path):
    big = build_elf(tmp_path / "big", model=1000, arena=300_000, ram_length=0x80000)
    bench = Bench("nano33", big)
    with pytest.raises(BuildError, match=r"does not fit Arduino Nano 33 BLE .*RAM: 29\d\.\d KiB"):
        bench.driver(tmp_path).build(MODEL)
    assert bench.uploads == []


def test_a_failed_build_is_classified(tmp_path, elf):
    bench = Bench(
        "nano33",
        elf,
        build_rc=1,
        build_output=[
            "Platform Manager: Installing nordicnrf52 @ 10.11.0",
            "HTTPClientError: Max retries exceeded with url: /v3/packages/platformio/tool",
        ],
    )
    with pytest.raises(BuildError, match=r"could not fetch a package for nano33ble") as err:
        bench.driver(tmp_path).build(MODEL)
    # the run's own log: its id in the name
    assert str(tmp_path / "logs" / f"pio-build-nano33-{runlog.run_id()}.log") in str(err.value)


def test_the_board_already_running_the_image_is_not_flashed(tmp_path, elf):
    bench = Bench("nano33", elf)
    driver = bench.driver(tmp_path)
    image = driver.build(MODEL)
    bench.image = image.image_hash
    device = driver.flash(image)
    assert bench.uploads == [] and bench.touched == []
    assert (device.port, device.serial_number) == ("/dev/ttyACM0", "SN0001")
    # the board is locked while the driver holds it
    with pytest.raises(BoardBusy, match="SN0001"):
        Bench("nano33", elf).driver(tmp_path).flash(image)
    driver.close()
    Bench("nano33", elf).driver(tmp_path).flash(image)


def test_nano33_flash_touches_then_follows_the_serial_number(tmp_path, elf):
    bench = Bench("nano33", elf)
    assert harness_touches(bench.spec)
    driver = bench.driver(tmp_path)
    image = driver.build(MODEL)
    device = driver.flash(image)
    assert bench.touched == ["/dev/ttyACM0"]
    (upload,) = bench.uploads
    assert upload[-6:] == ["-t", "nobuild", "-t", "upload", "--upload-port", "/dev/ttyACM1"]
    assert bench.envs[-1]["HIL_TFLM_REF"] == bench.envs[0]["HIL_TFLM_REF"]
    assert device.port == "/dev/ttyACM2"  # the app, found again by serial number
    assert bench.image == image.image_hash
    driver.close()


def test_dfu_board_leaves_the_touch_to_platformio(tmp_path, elf):
    bench = Bench("portenta_h7", elf)
    assert not harness_touches(bench.spec)
    driver = bench.driver(tmp_path)
    device = driver.flash(driver.build(MODEL))
    assert bench.touched == []
    assert bench.uploads[0][-1] == "/dev/ttyACM0"  # PlatformIO touches the app port
    assert device.port == "/dev/ttyACM1"
    driver.close()


def test_reflash_forces_and_no_flash_forbids(tmp_path, elf):
    bench = Bench("nano33", elf)
    image = bench.driver(tmp_path).build(MODEL)
    bench.image = image.image_hash
    d = bench.driver(tmp_path, reflash=True)
    d.flash(image)
    d.close()
    assert len(bench.uploads) == 1

    stale = Bench("nano33", elf)  # runs OLD_IMAGE
    d = stale.driver(tmp_path, no_flash=True)
    refused = r"--no-flash, but .* does not run image .*found image abab"
    with pytest.raises(FlashError, match=refused):
        d.flash(d.build(MODEL))
    d.close()
    assert stale.uploads == []


def test_no_flash_skips_the_build_and_accepts_a_current_board(tmp_path, elf):
    bench = Bench("nano33", elf)
    d = bench.driver(tmp_path, no_flash=True)
    image = d.build(MODEL)
    assert bench.commands == [] and image.path is None and "--no-flash" in image.extra["sizes"]
    bench.image = image.image_hash
    assert d.flash(image).port == "/dev/ttyACM0"
    d.close()


def test_a_board_that_does_not_come_back_is_a_flash_error(tmp_path, elf):
    bench = Bench("nano33", elf, come_back=False)
    d = bench.driver(tmp_path)
    with pytest.raises(FlashError, match=r"did not come back as 2341:805a within 30 s"):
        d.flash(d.build(MODEL))
    d.close()
    assert bench.now >= 30  # waited the bound on the fake clock, then gave up


def test_an_upload_that_did_not_take_is_a_flash_error(tmp_path, elf):
    bench = Bench("nano33", elf, upload_takes=False)
    d = bench.driver(tmp_path)
    with pytest.raises(FlashError, match=r"reports image abababababab, not image .*did not take"):
        d.flash(d.build(MODEL))
    d.close()


def test_no_bootloader_after_the_touch_is_a_flash_error(tmp_path, elf):
    bench = Bench("nano33", elf)
    bench.touch = lambda port: None  # the board ignores the touch
    d = bench.driver(tmp_path)
    with pytest.raises(FlashError, match=r"no Arduino Nano 33 .* bootloader .*Double-tap"):
        d.flash(d.build(MODEL))
    d.close()
    assert bench.uploads == []


class FakeLink:
    def __init__(self, port: str):
        self.port, self.is_open = port, True

    def close(self) -> None:
        self.is_open = False


def test_after_a_reset_the_board_is_found_again_by_its_serial_number(tmp_path, elf):
    bench = Bench("nano33", elf)
    driver = bench.driver(tmp_path)
    image = driver.build(MODEL)
    bench.image = image.image_hash
    device = driver.flash(image)
    driver.open_link = lambda dev, timeout: FakeLink(dev.port)  # no real port here
    first = driver.link(device)
    assert driver.reboot(device) is False  # no reset line: the Dut asks the firmware
    bench.ports = [bench._port("app")]  # the reset board re-enumerated under a new name
    again = driver.reconnect(device)
    assert not first.is_open and again.is_open
    assert device.port == again.port == "/dev/ttyACM1"
    bench.ports = []
    with pytest.raises(LinkError, match=r"SN0001\) did not come back as 2341:805a within 30 s"):
        driver.reconnect(device)
    driver.close()


def test_flash_decision_table():
    current, other = Probe("aa" * 32, "image aaaa"), Probe("bb" * 32, "image bbbb")
    nothing = Probe(None, "no tflm-hil firmware answering")
    image = "aa" * 32
    assert not must_flash(current, image, reflash=False, no_flash=False, where="p")
    assert must_flash(other, image, reflash=False, no_flash=False, where="p")
    assert must_flash(nothing, image, reflash=False, no_flash=False, where="p")
    assert must_flash(current, image, reflash=True, no_flash=False, where="p")
    assert not must_flash(current, image, reflash=False, no_flash=True, where="p")
    with pytest.raises(FlashError, match="found no tflm-hil firmware answering"):
        must_flash(nothing, image, reflash=False, no_flash=True, where="p")
    with pytest.raises(ConfigError):
        must_flash(current, image, reflash=True, no_flash=True, where="p")


def test_a_failed_rebuild_leaves_no_stale_build_behind(tmp_path, elf):
    bench = Bench("nano33", elf)
    image = bench.driver(tmp_path).build(MODEL)
    main = Path(image.extra["project"]) / "src" / "app" / "main.cpp"
    main.write_text(main.read_text() + "\n// edited\n")
    bench.build_rc = 1
    with pytest.raises(BuildError):
        bench.driver(tmp_path).build(MODEL)
    bench.build_rc = 0
    bench.driver(tmp_path).build(MODEL)  # must build again, not trust the old ELF
    assert len(bench.builds) == 3


def test_no_flash_on_a_stale_board_names_both_images():
    image, other = "aa" * 32, Probe("bb" * 32, "image bbbb")
    with pytest.raises(FlashError) as info:
        must_flash(other, image, reflash=False, no_flash=True, where="/dev/ttyACM0")
    assert str(info.value) == (
        "--no-flash, but the board on /dev/ttyACM0 does not run image aaaaaaaaaaaa: found image "
        "bbbbbbbbbbbb. Drop --no-flash to flash it"
    )
    with pytest.raises(ConfigError) as info:
        must_flash(other, image, reflash=True, no_flash=True, where="p")
    assert str(info.value) == "--reflash and --no-flash contradict each other: pass one of them"


def test_the_build_carries_the_pinned_librarys_known_issues_as_warnings(tmp_path, elf):
    from harness.firmware.compat import compat_warnings
    from harness.firmware.pins import default_pins

    per_channel = tiny_model(["FULLY_CONNECTED", "SOFTMAX"], weight_scales=4, source="pc.tflite")
    image = Bench("nano33", elf).driver(tmp_path).build(per_channel)
    (warning,) = image.extra["warnings"]
    assert warning == compat_warnings(per_channel, default_pins())[0]
    assert "FULLY_CONNECTED with per-channel weights" in warning
    assert Bench("nano33", elf).driver(tmp_path).build(MODEL).extra["warnings"] == []
