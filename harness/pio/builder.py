"""PlatformIO's build stage for one board: the project copy for a model, cached by image hash,
``pio run -e ENV`` (output streamed to a log, a progress line per step), the ELF's flash and
static RAM checked against the catalog. It never looks for the board (the flasher does)."""

from __future__ import annotations

import logging
from pathlib import Path

from filelock import FileLock

from ..boards.driver import Image
from ..errors import BuildError
from ..firmware.codegen import ImageInputs
from ..firmware.compat import compat_warnings
from ..firmware.elfsize import read_elf_sizes
from ..firmware.limits import app_limits, check_fits
from ..firmware.pins import Pins, resolve_pins
from ..firmware.progress import BuildProgress
from ..firmware.project import choose_arena, plan_files, recompute_image_hash, write_files
from ..provenance import Provenance
from ..tflite.model import TfliteModel
from . import cmd
from .rig import PioStage

log = logging.getLogger(__name__)

BUILT_STAMP = "tflm-hil-built"


class PioImageBuilder(PioStage):
    @property
    def env(self) -> str:
        return self.spec.platformio.env

    def build(self, model: TfliteModel) -> Image:
        pins = resolve_pins()
        warnings = compat_warnings(model, pins)
        for warning in warnings:
            log.warning(warning)
        limits = app_limits(self.spec)
        inputs = ImageInputs(
            self.spec, model, choose_arena(model, limits.ram_bytes, self.options.arena)
        )
        ident, files = plan_files(inputs, pins)
        project = self.places.images() / ident[:16]
        elf = cmd.firmware_elf(project, self.env)
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
                    arena = inputs.arena_size
                    return self._image(model, ident, arena, None, project, pins, warnings)
                self._compile(project, pins)
                if not elf.is_file():
                    raise BuildError(
                        f"pio run succeeded but left no {elf}: see {self.places.log('build')}"
                    )
                check_fits(self.spec, read_elf_sizes(elf), limits, inputs.arena_size)
                stamp.write_text(ident)
        return self._image(model, ident, inputs.arena_size, elf, project, pins, warnings)

    def _built(self, project: Path, ident: str, pins: Pins) -> bool:
        stamp = project / ".pio" / BUILT_STAMP
        if not stamp.is_file() or stamp.read_text().strip() != ident:
            return False
        if not cmd.firmware_elf(project, self.env).is_file():
            return False
        # The copy must still be what the hash says (nobody edited it since).
        return recompute_image_hash(project, pins, self.spec.id, self.env) == ident

    def _compile(self, project: Path, pins: Pins) -> None:
        env = cmd.pio_environ(pins, self.places.cache_root)
        log_path = self.places.log("build")
        progress = BuildProgress(f"build {self.env}", self.emit, clock=self.rig.clock)
        self.emit(f"[build {self.env}] pio run -e {self.env} -d {project} (log: {log_path})")
        # Builds with one TFLM ref share the library checkout: one at a time.
        libdeps_lock = Path(env["PLATFORMIO_LIBDEPS_DIR"] + ".lock")
        libdeps_lock.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(libdeps_lock)):
            rc = cmd.run_stage(
                self.rig.run,
                cmd.build_command(cmd.pio_command(), project, self.env),
                env,
                log_path,
                progress,
                cmd.BUILD_TIMEOUT_S,
                BuildError,
            )
        if rc != 0:
            raise cmd.build_failure(list(progress.tail), log_path, self.env)

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
        sizes = read_elf_sizes(elf) if elf is not None else None
        return Image(
            board=self.spec,
            model=model,
            image_hash=ident,
            arena_size=arena,
            flash_bytes=sizes.flash if sizes else 0,
            ram_bytes=sizes.ram if sizes else 0,
            provenance=Provenance.MEASURED,
            path=elf,
            extra={
                "project": str(project),
                "env": self.env,
                "pins": dict(pins.items()),
                "sizes": "from the ELF" if elf else "not built (--no-flash)",
                "warnings": warnings,
            },
        )
