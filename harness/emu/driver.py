"""The emulated board as a board driver: 'build' compiles the firmware image for the board's CPU,
'flash' starts it on QEMU, the link is QEMU's UART on a pseudo-terminal."""

from __future__ import annotations

from collections.abc import Callable

import serial

from .. import runlog
from ..boards.catalog import QEMU_PREFIX, BoardSpec
from ..boards.driver import BoardDriver, Device, DriverOptions, Image
from ..errors import FlashError, LinkError
from ..paths import cache_dir
from ..provenance import Provenance
from ..tflite.model import TfliteModel
from .image import EmuImageBuilder
from .qemu import QemuProcess, start_qemu

# The byte rate the harness expects of the link, for its timeouts. QEMU's CMSDK UART holds one
# byte and a pseudo-terminal has no baud rate: the link runs as fast as QEMU's main loop hands
# bytes over, 16-20 kB/s each way with instruction counting on this project's 2-CPU machine
# (an echo of 700-byte frames). Half of that leaves room for a loaded host. It says nothing
# about the board, whose USB link the catalog describes.
LINK_BYTES_PER_S = 8_000.0
# An emulated instruction takes as long as the host makes it take, so a reply or an invoke
# may come much later than on the board: the client waits longer before resending.
REPLY_TIMEOUT_S = 3.0
INVOKE_TIMEOUT_S = 600.0


class QemuLink(serial.Serial):
    """The pseudo-terminal, whose read errors say why QEMU went away (a fault, a crash)."""

    def __init__(self, port: str, qemu: QemuProcess, **kwargs) -> None:
        self._qemu = qemu
        super().__init__(port, **kwargs)

    def read(self, size: int = 1) -> bytes:
        try:
            return super().read(size)
        except serial.SerialException as exc:
            raise serial.SerialException(f"{exc}: {self._qemu.describe()}") from exc


class QemuDriver(BoardDriver):
    provenance = Provenance.EMULATED

    def __init__(
        self,
        spec: BoardSpec,
        options: DriverOptions | None = None,
        *,
        progress: Callable[[str], None] = print,
    ):
        super().__init__(spec, options)
        self.label = f"{QEMU_PREFIX}{spec.id}"
        self.qemu: QemuProcess | None = None
        self._builder = EmuImageBuilder(
            spec, label=self.label, arena=self.options.arena, log_dir=self.options.log_dir,
            emit=progress,
        )  # fmt: skip

    def build(self, model: TfliteModel) -> Image:
        return self._builder.build(model)

    def flash(self, image: Image) -> Device:
        self.close()
        if image.path is None or self.spec.emulation is None:
            raise FlashError(f"no emulation image was built for {self.label}")
        log_dir = self.options.log_dir or cache_dir() / "emu" / "logs"
        log = runlog.log_path(log_dir, f"qemu-{self.spec.id}")
        self.qemu = start_qemu(image.path, self.spec.emulation.machine, log)
        return Device(
            port=self.qemu.port,
            byte_rate=LINK_BYTES_PER_S,
            image=image,
            reply_timeout=REPLY_TIMEOUT_S,
            invoke_timeout=INVOKE_TIMEOUT_S,
        )

    def open_link(self, device: Device, timeout: float = 0.05) -> serial.Serial:
        if self.qemu is None:
            raise LinkError(f"{self.label} is not running: flash it first")
        try:
            return QemuLink(device.port, self.qemu, timeout=timeout, exclusive=True)
        except (serial.SerialException, OSError) as exc:
            raise LinkError(f"cannot open {device.port}: {exc}; {self.qemu.describe()}") from exc

    def reboot(self, device: Device) -> bool:
        if self.qemu is None:
            return False
        self.qemu.reset()  # QMP's system_reset
        return True

    def release(self) -> None:
        if self.qemu:
            self.qemu.stop()
            self.qemu = None
