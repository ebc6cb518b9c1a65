"""PlatformIO's upload stage for one board on USB: find it, lock it, ask it what it runs, and
flash only when that differs (``--reflash`` forces, ``--no-flash`` forbids and refuses a
mismatch). The upload: the 1200-baud touch where the catalog asks for it, ``pio run -t upload``,
then the board is found again by its serial number and must report the new image hash.

Lifecycle: ``find`` (any time) -> ``flash`` (takes the board's lock) -> ``release``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..boards.discovery import (
    AttachedPort,
    Match,
    attached_ports,
    find_board,
    wait_for_board,
    wait_for_new_port,
)
from ..boards.driver import Device, Image
from ..boards.locking import BoardLock, lock_key
from ..errors import FlashError
from ..firmware.pins import Pins
from ..firmware.progress import BuildProgress
from . import cmd
from .probe import Probe, harness_touches, must_flash
from .rig import PioStage

BOOTLOADER_WAIT_S = 10.0
APP_WAIT_S = 30.0
PROBE_RETRY_S = 5.0


@dataclass
class UsbFlasher(PioStage):
    _lock: BoardLock | None = field(default=None, init=False)

    def find(self) -> Match:
        return find_board(
            self.spec,
            serial_number=self.options.board_serial,
            port=self.options.port,
            list_ports=self.rig.list_ports,
        )

    def flash(self, image: Image) -> Device:
        match = self.find()  # again: it may have re-enumerated since the build
        self._acquire(match)
        where, short = match.port.describe(), image.image_hash[:12]
        probe = (
            self.rig.probe(match.port.device, self.spec.link.bytes_per_s)
            if match.role == "app"
            else Probe(None, "the board waiting in its bootloader")
        )
        opts = self.options
        if must_flash(
            probe, image.image_hash, reflash=opts.reflash, no_flash=opts.no_flash, where=where
        ):
            if image.path is None:
                raise FlashError(f"no firmware was built for {self.spec.id}: cannot flash it")
            if not match.port.usb_id:
                raise FlashError(
                    f"cannot flash a board reached through {match.port.device} (no USB device "
                    "here): flash it where it is attached, or pass --no-flash"
                )
            self.emit(f"[flash {self.spec.id}] {where} runs {probe.detail}; flashing image {short}")
            match = self._upload(image, match)
        else:
            self.emit(f"[flash {self.spec.id}] {where} already runs image {short}: not flashed")
        return Device(
            port=match.port.device,
            byte_rate=self.spec.link.bytes_per_s,
            image=image,
            serial_number=match.port.serial_number or "",
        )

    def release(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def _acquire(self, match: Match) -> None:
        key = lock_key(match.port.serial_number, match.port.device)
        if self._lock is not None and self._lock.key == key and self._lock.held:
            return
        self.release()
        self._lock = BoardLock(key, port=match.port.device, timeout=self.options.lock_timeout)
        self._lock.acquire()

    def find_again(
        self, before: list[AttachedPort], serial_number: str | None, role: str, timeout: float
    ) -> Match | None:
        """The board in ``role`` again: by serial number; without one, the only new such port."""
        rig = self.rig
        if serial_number:
            found, _ = wait_for_board(
                self.spec, serial_number, role, timeout,
                list_ports=rig.list_ports, sleep=rig.sleep, clock=rig.clock, before=before,
            )  # fmt: skip
            return found
        return wait_for_new_port(
            self.spec, before, role, timeout,
            list_ports=rig.list_ports, sleep=rig.sleep, clock=rig.clock,
        )  # fmt: skip

    def _found(self) -> str:
        return "; ".join(p.describe() for p in attached_ports(self.rig.list_ports))

    def _bootloader_port(self, match: Match) -> str:
        """The port to upload through: the app's, or the bootloader's after our touch."""
        if not (harness_touches(self.spec) and match.role == "app"):
            return match.port.device
        before = attached_ports(self.rig.list_ports)
        self.rig.touch(match.port.device)
        boot = self.find_again(before, match.port.serial_number, "bootloader", BOOTLOADER_WAIT_S)
        if boot is None:
            raise FlashError(
                f"after the 1200-baud touch on {match.port.device} no {self.spec.name} "
                f"bootloader ({self.spec.usb_bootloader}, serial {match.port.serial_number}) "
                f"appeared within {BOOTLOADER_WAIT_S:.0f} s; found: {self._found()}. "
                "Double-tap the reset button and retry"
            )
        return boot.port.device

    def _upload(self, image: Image, match: Match) -> Match:
        serial_number = match.port.serial_number
        upload_port = self._bootloader_port(match)
        # The upload runs with the pins the image was built with.
        pins = Pins(**image.extra["pins"])
        env = cmd.pio_environ(pins, self.places.cache_root)
        log_path = self.places.log("upload")
        progress = BuildProgress(f"upload {self.spec.id}", self.emit, clock=self.rig.clock)
        before = attached_ports(self.rig.list_ports)
        project, env_name = Path(image.extra["project"]), self.spec.platformio.env
        upload = cmd.upload_command(cmd.pio_command(), project, env_name, upload_port)
        rc = cmd.run_stage(
            self.rig.run, upload, env, log_path, progress, cmd.UPLOAD_TIMEOUT_S, FlashError
        )
        if rc != 0:
            raise cmd.upload_failure(list(progress.tail), log_path, upload_port)
        others = [p for p in before if p.device != match.port.device]
        back = self.find_again(others, serial_number, "app", APP_WAIT_S)
        if back is None:
            raise FlashError(
                f"the upload finished but {self.spec.name} (serial {serial_number}) did not come "
                f"back as {self.spec.usb_app} within {APP_WAIT_S:.0f} s; found: {self._found()}"
            )
        self._verify(back, image)
        return back

    def _verify(self, match: Match, image: Image) -> None:
        """The board must now report the image just uploaded (udev may need a moment first)."""
        deadline = self.rig.clock() + PROBE_RETRY_S
        while True:
            probe = self.rig.probe(match.port.device, self.spec.link.bytes_per_s)
            if probe.image_hash == image.image_hash:
                return
            if probe.image_hash is not None or self.rig.clock() >= deadline:
                raise FlashError(
                    f"after the upload {match.port.describe()} reports {probe.detail}, not image "
                    f"{image.image_hash[:12]}: the upload did not take (with several boards of "
                    "one kind on a DFU or picotool bootloader, the tool may have picked another "
                    "board: attach one at a time)"
                )
            self.rig.sleep(0.5)
