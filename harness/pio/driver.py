"""Real boards through PlatformIO: the image builder and the USB flasher, in PlatformIO's order.

- **build**: find the board first (a run with no board attached fails in seconds, not after a
  build), then build the image (``pio/builder.py``).
- **flash**: lock the board, flash it only if it runs another image (``pio/flasher.py``).
- **link**: the board's USB serial port (``BoardDriver.link``); after a reset the board
  re-enumerates, and ``reconnect`` finds it again by its serial number.
- **close**: the link, then the board's lock.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import serial

from ..boards.catalog import BoardSpec
from ..boards.driver import BoardDriver, Device, DriverOptions, Image
from ..errors import LinkError
from ..paths import cache_dir
from ..tflite.model import TfliteModel
from .builder import PioImageBuilder
from .cmd import PioPlaces
from .flasher import APP_WAIT_S, UsbFlasher
from .rig import Rig, SystemRig

log = logging.getLogger(__name__)

# A board asked to reset over USB CDC drops off the bus a moment later: wait for that before
# looking for it again, or the old port is found still listed.
RESET_SETTLE_S = 1.0


class PioDriver(BoardDriver):
    simulated = False

    def __init__(
        self,
        spec: BoardSpec,
        options: DriverOptions | None = None,
        *,
        rig: Rig | None = None,
        progress: Callable[[str], None] | None = None,
        cache: Path | None = None,
    ):
        super().__init__(spec, options)
        self.rig = rig or SystemRig()
        places = PioPlaces(cache or cache_dir() / "pio", spec.id, self.options.log_dir)
        emit = progress or log.info
        self.builder = PioImageBuilder(spec, self.options, self.rig, places, emit)
        self.flasher = UsbFlasher(spec, self.options, self.rig, places, emit)

    def build(self, model: TfliteModel) -> Image:
        self.flasher.find()  # fail fast: no point in a long build for a board that is not there
        return self.builder.build(model)

    def flash(self, image: Image) -> Device:
        return self.flasher.flash(image)

    def reconnect(self, device: Device) -> serial.Serial:
        """After a reset the board comes back on USB, maybe as another port: found again by its
        serial number (without one, the port it had), then linked anew."""
        self.close_link()
        self.rig.sleep(RESET_SETTLE_S)
        if device.serial_number:
            back = self.flasher.find_again([], device.serial_number, "app", APP_WAIT_S)
            if back is None:
                raise LinkError(
                    f"{self.spec.name} (serial {device.serial_number}) did not come back as "
                    f"{self.spec.usb_app} within {APP_WAIT_S:.0f} s of its reset"
                )
            device.port = back.port.device
        return self.link(device)

    def release(self) -> None:
        self.flasher.release()
