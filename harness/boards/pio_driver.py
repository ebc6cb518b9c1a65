"""Real boards through PlatformIO: build an image, flash it only when the board runs another one.

Stages, in PlatformIO's order:

- **build**: find the board first (a run with no board attached fails in seconds, not after a
  build), generate the project copy for the model, ``pio run -e ENV`` (output streamed to a
  log, a progress line per step), read the ELF's flash and static RAM and check them against
  the catalog. Copies are cached by image hash: an unchanged image is not rebuilt.
- **flash**: lock the board (by USB serial number), ask the firmware on it for its image hash;
  flash only if it differs (``--reflash`` forces, ``--no-flash`` forbids and refuses a
  mismatch). The upload: the 1200-baud touch where the catalog asks for it, then
  ``pio run -t upload``, then the board is found again by its serial number and must report
  the new image hash.
"""

from __future__ import annotations

import contextlib
import logging
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import serial
from filelock import FileLock

from ..errors import BuildError, ConfigError, FlashError, HilError
from ..firmware.codegen import ImageInputs
from ..firmware.compat import compat_warnings
from ..firmware.elfsize import read_elf_sizes
from ..firmware.pins import Pins, resolve_pins
from ..firmware.project import choose_arena, plan_files, recompute_image_hash, write_files
from ..paths import cache_dir
from ..provenance import Provenance
from ..tflite.model import TfliteModel
from . import pio_cmd
from .catalog import BoardSpec
from .discovery import (
    AttachedPort,
    ListPorts,
    Match,
    attached_ports,
    find_board,
    role_of,
    wait_for_board,
)
from .driver import BoardDriver, Device, DriverOptions, Image
from .limits import app_limits, check_fits
from .locking import BoardLock, lock_key

log = logging.getLogger(__name__)

# Upload protocols whose bootloader is itself a serial port: for these the harness does the
# 1200-baud touch and finds the bootloader by serial number (platformio.ini turns PlatformIO's
# own touch off). DFU and picotool bootloaders are plain USB devices their tools find.
SERIAL_BOOTLOADER_PROTOCOLS = frozenset({"sam-ba"})
BOOTLOADER_WAIT_S = 10.0
APP_WAIT_S = 30.0
PROBE_RETRY_S = 5.0
BUILT_STAMP = "tflm-hil-built"


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


class PioDriver(BoardDriver):
    simulated = False

    def __init__(
        self,
        spec: BoardSpec,
        options: DriverOptions | None = None,
        *,
        list_ports: ListPorts | None = None,
        runner: pio_cmd.Runner | None = None,
        prober: Prober | None = None,
        touch: Touch | None = None,
        progress: Callable[[str], None] | None = None,
        lock_timeout: float | None = None,
        cache: Path | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ):
        super().__init__(spec, options)
        self._list_ports = list_ports
        self._runner = runner or pio_cmd.run_streaming
        self._prober = prober or probe_image
        self._touch = touch or touch_1200
        self._emit = progress or log.info
        self._lock_timeout = lock_timeout if lock_timeout is not None else self.options.lock_timeout
        self._cache = cache
        self._sleep = sleep
        self._clock = clock
        self._match: Match | None = None
        self._lock: BoardLock | None = None

    # ---- build -----------------------------------------------------------------------------

    @property
    def cache_root(self) -> Path:
        return self._cache or cache_dir() / "pio"

    def _log_path(self, stage: str) -> Path:
        base = self.options.log_dir or self.cache_root / "logs"
        return base / f"pio-{stage}-{self.spec.id}.log"

    def find(self) -> Match:
        return find_board(
            self.spec,
            serial_number=self.options.board_serial,
            port=self.options.port,
            list_ports=self._list_ports,
        )

    def build(self, model: TfliteModel) -> Image:
        # Fail fast: no point in a long build for a board that is not there.
        self._match = self.find()
        pins = resolve_pins()
        warnings = compat_warnings(model, pins)
        for warning in warnings:
            log.warning(warning)
        limits = app_limits(self.spec)
        inputs = ImageInputs(
            self.spec, model, choose_arena(model, limits.ram_bytes, self.options.arena)
        )
        ident, files = plan_files(inputs, pins)
        env = self.spec.platformio.env
        project = self.cache_root / "images" / self.spec.id / ident[:16]
        elf = pio_cmd.firmware_elf(project, env)
        stamp = project / ".pio" / BUILT_STAMP
        project.parent.mkdir(parents=True, exist_ok=True)
        # Two runs building one image (two boards of a kind, one model) take turns: the
        # second finds the first one's build.
        with FileLock(f"{project}.lock"):
            if not self._built(project, ident, pins):
                write_files(project, files)
                stamp.unlink(missing_ok=True)
                if self.options.no_flash:
                    # Nothing will be uploaded: the board must already carry this image.
                    return self._image(
                        model, ident, inputs.arena_size, None, project, pins, warnings
                    )
                self._compile(project, pins)
                if not elf.is_file():
                    raise BuildError(
                        f"pio run succeeded but left no {elf}: see {self._log_path('build')}"
                    )
                sizes = read_elf_sizes(elf)
                check_fits(self.spec, sizes, limits, inputs.arena_size)
                stamp.write_text(ident)
        return self._image(model, ident, inputs.arena_size, elf, project, pins, warnings)

    def _built(self, project: Path, ident: str, pins: Pins) -> bool:
        stamp = project / ".pio" / BUILT_STAMP
        if not stamp.is_file() or stamp.read_text().strip() != ident:
            return False
        if not pio_cmd.firmware_elf(project, self.spec.platformio.env).is_file():
            return False
        # The copy must still be what the hash says (nobody edited it since).
        return recompute_image_hash(project, pins, self.spec.id, self.spec.platformio.env) == ident

    def _image(
        self,
        model: TfliteModel,
        ident: str,
        arena: int,
        elf: Path | None,
        project: Path,
        pins: Pins,
        warnings: list[str],
    ) -> Image:
        flash = ram = 0
        if elf is not None:
            sizes = read_elf_sizes(elf)
            flash, ram = sizes.flash, sizes.ram
        return Image(
            board=self.spec,
            model=model,
            image_hash=ident,
            arena_size=arena,
            flash_bytes=flash,
            ram_bytes=ram,
            provenance=Provenance.MEASURED,
            path=elf,
            extra={
                "project": str(project),
                "env": self.spec.platformio.env,
                "pins": dict(pins.items()),
                "sizes": "from the ELF" if elf else "not built (--no-flash)",
                "warnings": warnings,
            },
        )

    def _run_pio(
        self,
        cmd: list[str],
        env: dict[str, str],
        log_path: Path,
        progress: pio_cmd.Progress,
        timeout: float,
        error: type[HilError],
    ) -> int:
        """Runs one PlatformIO command; a hang or a missing executable is a failure of the
        stage (``error``: BuildError or FlashError), with the log."""
        try:
            return self._runner(cmd, env, log_path, progress.line, timeout)
        except TimeoutError as exc:
            raise error(f"{exc} (log: {log_path})") from exc
        except OSError as exc:
            raise error(f"cannot run PlatformIO ({shlex.join(cmd)}): {exc}") from exc

    def _compile(self, project: Path, pins: Pins) -> None:
        pio = pio_cmd.pio_command()
        env = pio_cmd.pio_environ(pins, self.cache_root)
        name = self.spec.platformio.env
        log_path = self._log_path("build")
        progress = pio_cmd.Progress(f"build {name}", self._emit, clock=self._clock)
        self._emit(f"[build {name}] pio run -e {name} -d {project} (log: {log_path})")
        # Builds with one TFLM ref share the library checkout: one at a time.
        libdeps_lock = Path(env["PLATFORMIO_LIBDEPS_DIR"] + ".lock")
        libdeps_lock.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(libdeps_lock)):
            rc = self._run_pio(
                pio_cmd.build_command(pio, project, name),
                env,
                log_path,
                progress,
                pio_cmd.BUILD_TIMEOUT_S,
                BuildError,
            )
        if rc != 0:
            raise pio_cmd.build_failure(list(progress.tail), log_path, name)

    # ---- flash -----------------------------------------------------------------------------

    def flash(self, image: Image) -> Device:
        match = self.find()  # again: it may have re-enumerated since build()
        self._acquire(match)
        where = match.port.describe()
        probe = (
            self._prober(match.port.device, self.spec.link.bytes_per_s)
            if match.role == "app"
            else Probe(None, "the board waiting in its bootloader")
        )
        flash = must_flash(
            probe,
            image.image_hash,
            reflash=self.options.reflash,
            no_flash=self.options.no_flash,
            where=where,
        )
        if flash:
            if image.path is None:
                raise FlashError(f"no firmware was built for {self.spec.id}: cannot flash it")
            if not match.port.usb_id:
                raise FlashError(
                    f"cannot flash a board reached through {match.port.device} (no USB device "
                    "here): flash it where it is attached, or pass --no-flash"
                )
            self._emit(
                f"[flash {self.spec.id}] {where} runs {probe.detail}; flashing image "
                f"{image.image_hash[:12]}"
            )
            match = self._upload(image, match)
        else:
            self._emit(
                f"[flash {self.spec.id}] {where} already runs image "
                f"{image.image_hash[:12]}: not flashed"
            )
        self._match = match
        return Device(
            port=match.port.device,
            byte_rate=self.spec.link.bytes_per_s,
            image=image,
            serial_number=match.port.serial_number or "",
        )

    def _acquire(self, match: Match) -> None:
        key = lock_key(match.port.serial_number, match.port.device)
        if self._lock is not None and self._lock.key == key and self._lock.held:
            return
        self.close()
        self._lock = BoardLock(key, port=match.port.device, timeout=self._lock_timeout)
        self._lock.acquire()

    def _find_again(
        self, before: list[AttachedPort], serial_number: str | None, role: str, timeout: float
    ) -> Match | None:
        """The board in ``role`` again: by serial number; without one, the only new such port."""
        if serial_number:
            found, _ = wait_for_board(
                self.spec,
                serial_number,
                role,
                timeout,
                list_ports=self._list_ports,
                sleep=self._sleep,
                clock=self._clock,
                before=before,
            )
            return found
        deadline = self._clock() + timeout
        old = {p.device for p in before}
        while True:
            fresh = [
                p
                for p in attached_ports(self._list_ports)
                if role_of(self.spec, p) == role and p.device not in old
            ]
            if len(fresh) == 1:
                return Match(self.spec, fresh[0], role)
            if self._clock() >= deadline:
                return None
            self._sleep(0.25)

    def _upload(self, image: Image, match: Match) -> Match:
        serial_number = match.port.serial_number
        upload_port = match.port.device
        if harness_touches(self.spec) and match.role == "app":
            before = attached_ports(self._list_ports)
            self._touch(match.port.device)
            boot = self._find_again(before, serial_number, "bootloader", BOOTLOADER_WAIT_S)
            if boot is None:
                raise FlashError(
                    f"after the 1200-baud touch on {match.port.device} no {self.spec.name} "
                    f"bootloader ({self.spec.usb_bootloader}, serial {serial_number}) appeared "
                    f"within {BOOTLOADER_WAIT_S:.0f} s; found: "
                    f"{'; '.join(p.describe() for p in attached_ports(self._list_ports))}. "
                    "Double-tap the reset button and retry"
                )
            upload_port = boot.port.device
        # The upload runs with the pins the image was built with.
        project = Path(image.extra["project"])
        pins = Pins(**image.extra["pins"])
        pio = pio_cmd.pio_command()
        env = pio_cmd.pio_environ(pins, self.cache_root)
        log_path = self._log_path("upload")
        progress = pio_cmd.Progress(f"upload {self.spec.id}", self._emit, clock=self._clock)
        before = attached_ports(self._list_ports)
        rc = self._run_pio(
            pio_cmd.upload_command(pio, project, self.spec.platformio.env, upload_port),
            env,
            log_path,
            progress,
            pio_cmd.UPLOAD_TIMEOUT_S,
            FlashError,
        )
        if rc != 0:
            raise pio_cmd.upload_failure(list(progress.tail), log_path, upload_port)
        back = self._find_again(
            [p for p in before if p.device != match.port.device], serial_number, "app", APP_WAIT_S
        )
        if back is None:
            raise FlashError(
                f"the upload finished but {self.spec.name} (serial {serial_number}) did not come "
                f"back as {self.spec.usb_app} within {APP_WAIT_S:.0f} s; found: "
                f"{'; '.join(p.describe() for p in attached_ports(self._list_ports))}"
            )
        self._verify(back, image)
        return back

    def _verify(self, match: Match, image: Image) -> None:
        """The board must now report the image just uploaded (udev may need a moment first)."""
        deadline = self._clock() + PROBE_RETRY_S
        while True:
            probe = self._prober(match.port.device, self.spec.link.bytes_per_s)
            if probe.image_hash == image.image_hash:
                return
            if probe.image_hash is not None or self._clock() >= deadline:
                raise FlashError(
                    f"after the upload {match.port.describe()} reports {probe.detail}, not image "
                    f"{image.image_hash[:12]}: the upload did not take (with several boards of "
                    "one kind on a DFU or picotool bootloader, the tool may have picked another "
                    "board: attach one at a time)"
                )
            self._sleep(0.5)

    def close(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None
