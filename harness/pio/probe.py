"""What runs on a board now, and the reflash decision: the image probe, the 1200-baud touch.

The probe handshakes with our firmware through the protocol client (imported in the function:
an answer is needed only on a real port, and the tests inject their own probe).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass

import serial

from ..boards.catalog import BoardSpec
from ..errors import ConfigError, FlashError, HilError

# Upload protocols whose bootloader is itself a serial port: for these the harness does the
# 1200-baud touch and finds the bootloader by serial number (platformio.ini turns PlatformIO's
# own touch off). DFU and picotool bootloaders are plain USB devices their tools find.
SERIAL_BOOTLOADER_PROTOCOLS = frozenset({"sam-ba"})


@dataclass(frozen=True)
class Probe:
    """What the firmware on a board said about itself (image_hash None: nothing usable answered)."""

    image_hash: str | None
    detail: str


Prober = Callable[[str, float], Probe]
Touch = Callable[[str], None]


def harness_touches(spec: BoardSpec) -> bool:
    return spec.touch_1200bps and spec.platformio.upload_protocol in SERIAL_BOOTLOADER_PROTOCOLS


def must_flash(probe: Probe, image_hash: str, *, reflash: bool, no_flash: bool, where: str) -> bool:
    """The image cache decision: flash only when the board runs another image."""
    if reflash and no_flash:
        raise ConfigError("--reflash and --no-flash contradict each other: pass one of them")
    current = probe.image_hash
    if no_flash:
        if current == image_hash:
            return False
        found = f"image {current[:12]}" if current else probe.detail
        raise FlashError(
            f"--no-flash, but the board on {where} does not run image {image_hash[:12]}: "
            f"found {found}. Drop --no-flash to flash it"
        )
    return reflash or current != image_hash


def touch_1200(port: str) -> None:
    """Opening the port at 1200 baud and dropping DTR asks an Arduino core for its bootloader."""
    try:
        link = serial.Serial(port, baudrate=1200)
    except (serial.SerialException, OSError) as exc:
        raise FlashError(f"cannot open {port} for the 1200-baud touch: {exc}") from exc
    try:
        link.dtr = False
    finally:
        # The board may already be gone into its bootloader.
        with contextlib.suppress(serial.SerialException, OSError):
            link.close()


def probe_image(port: str, byte_rate: float) -> Probe:
    """Handshakes with the firmware on ``port``: its image hash, or why there is none."""
    from ..protocol.client import DeviceClient

    try:
        link = serial.serial_for_url(port, baudrate=115200, timeout=0.05, exclusive=True)
    except (serial.SerialException, OSError, ValueError) as exc:
        return Probe(None, f"a port that does not open ({exc})")
    client = DeviceClient(link, byte_rate=byte_rate, reply_timeout=0.5, retries=2)
    try:
        info = client.hello()
        return Probe(info.image_hash, f"image {info.image_hash[:12]}")
    except (HilError, serial.SerialException, OSError) as exc:
        return Probe(None, f"no tflm-hil firmware answering ({exc})")
    finally:
        client.close()
        link.close()
