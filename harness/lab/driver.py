"""A labgrid place as a board (``--board=labgrid:PLACE``).

Stages, as for a local board:

- **build**: what the place's tags say is behind it: a board (``kind=real``, the default) gets
  its PlatformIO image built here; a simulated twin exported like a board (``kind=sim``) gets
  the twin's image plan, so the run checks the twin runs the model under test.
- **flash**: queue for the place on a reservation and acquire it (another run holding it makes
  this one wait in the coordinator's queue), open its exported serial port (RFC 2217), ask
  the firmware for its image hash, and flash on the exporter host only when it differs.
- **link** / **reconnect**: the place's ``rfc2217://`` port, read again after a reset (the
  exporter serves a re-enumerated board on a new TCP port).
- **release**: cancel the reservation and release the place, after a failure or Ctrl-C too
  (SIGTERM is turned into KeyboardInterrupt while the place is held, so pytest's teardown runs).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable
from typing import Any

import serial

from ..boards.catalog import BoardSpec
from ..boards.driver import BoardDriver, Device, DriverOptions, Image
from ..boards.locking import lock_timeout
from ..errors import FlashError
from ..paths import cache_dir
from ..pio.builder import PioImageBuilder
from ..pio.cmd import PioPlaces
from ..pio.probe import must_flash, probe_image
from ..pio.rig import SystemRig
from ..provenance import Provenance
from ..tflite.model import TfliteModel
from .flash import flash_on_exporter
from .place import HeldPlace, PlaceBoard, acquire_place


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


class LabgridDriver(BoardDriver):
    def __init__(
        self,
        spec: BoardSpec,
        options: DriverOptions,
        place: PlaceBoard,
        *,
        progress: Callable[[str], None] = print,
        acquire: Callable[..., HeldPlace] = acquire_place,
        flasher: Callable[..., None] = flash_on_exporter,
    ):
        super().__init__(spec, options)
        self.place = place
        self.simulated = place.simulated
        self.provenance = Provenance.ESTIMATED if place.simulated else Provenance.MEASURED
        self.pinned_library = not place.simulated
        self._emit = progress
        self._acquire = acquire
        self._flasher = flasher
        self._held: HeldPlace | None = None
        self._old_sigterm: Any = None
        if place.simulated:
            from ..sim.driver import SimDriver

            self._twin_plan: SimDriver | None = SimDriver(spec, options)
        else:  # the PlatformIO build of a board attached elsewhere: nothing to discover here
            self._twin_plan = None
            places = PioPlaces(cache_dir() / "pio", spec.id, options.log_dir)
            self._pio = PioImageBuilder(spec, options, SystemRig(), places, progress)

    @property
    def instance(self) -> str:
        return f"labgrid:{self.place.place}"

    def build(self, model: TfliteModel) -> Image:
        if self._twin_plan is not None:
            return self._twin_plan.build(model)  # the image the exported twin must run
        return self._pio.build(model)

    def _hold(self) -> HeldPlace:
        if self._held is None or not self._held.held:
            wait = self.options.lock_timeout
            self._held = self._acquire(
                self.place.place,
                wait_s=lock_timeout() if wait is None else wait,  # as for a board's lock
                progress=self._emit,
            )
            if threading.current_thread() is threading.main_thread():
                self._old_sigterm = signal.signal(signal.SIGTERM, _raise_interrupt)
        return self._held

    def flash(self, image: Image) -> Device:
        held = self._hold()
        url = held.serial_url()
        where = f"labgrid place {self.place.place} ({url})"
        probe = probe_image(url, self.spec.link.bytes_per_s)
        if must_flash(
            probe,
            image.image_hash,
            reflash=self.options.reflash,
            no_flash=self.options.no_flash,
            where=where,
        ):
            if self.place.simulated:
                raise FlashError(
                    f"the twin behind {where} runs {probe.detail}, not image "
                    f"{image.image_hash[:12]}: a twin is not flashed through a lab; restart it "
                    "on the exporter host with this model (tflm-hil sim --model ...)"
                )
            self._emit(
                f"[flash {self.spec.id}] {where} runs {probe.detail}; flashing on its exporter host"
            )
            res = held.exporter_resource()
            self._flasher(
                res["host"], res.get("extra", {}).get("path", ""), image, progress=self._emit
            )
            url = held.serial_url()  # the exporter restarts ser2net when the tty comes back
            after = probe_image(url, self.spec.link.bytes_per_s)
            if after.image_hash != image.image_hash:
                raise FlashError(
                    f"after flashing, {where} reports {after.detail}, not image "
                    f"{image.image_hash[:12]}"
                )
        else:
            self._emit(
                f"[flash {self.spec.id}] {where} already runs image "
                f"{image.image_hash[:12]}: not flashed"
            )
        return Device(
            port=url,
            byte_rate=self.spec.link.bytes_per_s,
            image=image,
            serial_number=self.place.place,
        )

    def reconnect(self, device: Device) -> serial.Serial:
        """After a reset a board re-enumerates and its exporter serves it on a new TCP port:
        the place's port is read again."""
        self.close_link()
        if self._held is not None:
            device.port = self._held.serial_url()
        return self.link(device)

    def release(self) -> None:
        """The place: its reservation cancelled, then released (the link is closed first)."""
        held, self._held = self._held, None
        try:
            if held is not None:
                held.release()
        finally:
            if self._old_sigterm is not None:
                with contextlib.suppress(ValueError):
                    signal.signal(signal.SIGTERM, self._old_sigterm)
                self._old_sigterm = None
