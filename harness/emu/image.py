"""The emulated board's firmware image: the board's own sources and the pinned TFLM library,
built for its CPU with its PlatformIO build's flags; the emulation layer in place of the
Arduino core. Images are cached by image hash, the library's objects per (commit, flags,
compiler): an unchanged image is not rebuilt, a new model recompiles only our sources.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from filelock import FileLock

from .. import runlog
from ..boards.catalog import BoardSpec
from ..boards.driver import Image
from ..errors import ConfigError
from ..firmware.codegen import GENERATED_DIR, ImageInputs
from ..firmware.compat import compat_warnings
from ..firmware.elfsize import ElfSizes, SectionSize, read_elf_sizes
from ..firmware.images import firmware_image
from ..firmware.library import require_library
from ..firmware.limits import app_limits, check_fits
from ..firmware.pins import Pins, check_pins, resolve_pins
from ..firmware.progress import BuildProgress
from ..firmware.project import choose_arena, firmware_sources, plan_files, write_files
from ..paths import cache_dir
from ..provenance import Provenance
from ..tflite.model import TfliteModel
from .build import compile_project, emu_flags, image_sources, include_dirs, link_elf
from .libcache import build_library
from .qemu import ICOUNT_SHIFT
from .toolchain import Toolchain, board_flags

BUILT_STAMP = ".tflm-hil-built"


class EmuImageBuilder:
    """Builds ``Image``s of one board for QEMU.

    ``pins`` chooses the TFLM library (its ``tflm_ref``; fetched beforehand with ``tflm-hil
    firmware fetch --ref``): by default the pins in force ($HIL_TFLM_REF, else platformio.ini's).
    A compatibility matrix builds one image per library ref this way; a ref whose sources no
    longer compile against the backend is a BuildError with the compiler's first errors.
    Images go to ``images_dir`` (default: the user cache), the library's objects always to
    the user cache.
    """

    def __init__(
        self,
        spec: BoardSpec,
        *,
        label: str,
        pins: Pins | None = None,
        arena: int | None = None,
        log_dir: Path | None = None,
        images_dir: Path | None = None,
        emit: Callable[[str], None] = print,
        mlperf: bool = False,
    ):
        if spec.emulation is None:
            raise ConfigError(f"{spec.id} declares no emulation target in the board catalog")
        self.spec = spec
        self.emulation = spec.emulation
        self.label = label
        self.pins = pins
        self.arena = arena
        self.log_dir = log_dir or cache_dir() / "emu" / "logs"
        self.images_dir = images_dir or cache_dir() / "emu" / "images"
        self.emit = emit
        # the MLPerf Tiny DUT firmware (env *_mlperf, src/mlperf/) instead of ours
        self.mlperf = mlperf

    def build(self, model: TfliteModel) -> Image:
        pins = check_pins(self.pins) if self.pins else resolve_pins()
        library = require_library(pins.tflm_ref)  # first: the quickest failure, the likeliest
        toolchain = Toolchain.find()
        flags = board_flags(self.emulation, pins)
        ours = emu_flags(flags, self.emulation.machine)
        limits = app_limits(self.spec)
        inputs = ImageInputs(self.spec, model, choose_arena(model, limits.ram_bytes, self.arena))
        # the build's name in the image hash: the machine and whatever else makes the binary
        build_id = ours.digest(library.commit, toolchain.version, str(ICOUNT_SHIFT))[:16]
        env = f"qemu-{self.emulation.machine}-{build_id}"
        # the board's test firmware (or its MLPerf DUT firmware), src/emu/ for src/arduino/
        image = firmware_image("emu_mlperf" if self.mlperf else "emu")
        ident, files = plan_files(inputs, pins, firmware_sources(image), env)
        project = self.images_dir / self.spec.id / ident[:16]
        log_path = runlog.log_path(self.log_dir, f"emu-build-{self.spec.id}")
        progress = BuildProgress(f"build {self.label}", self.emit)
        stats: dict[str, object] = {"reused": True}  # nothing compiled: the image was built
        project.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(f"{project}.lock"):
            elf = project / "firmware.elf"
            stamp = project / BUILT_STAMP
            if not (elf.is_file() and stamp.is_file() and stamp.read_text() == ident):
                write_files(project, files)
                self.emit(
                    f"[build {self.label}] TFLM {pins.tflm_ref[:12]} and the firmware for "
                    f"{self.emulation.cpu} on {self.emulation.machine} (log: {log_path})"
                )
                sources = [
                    *image_sources(image, project),
                    *sorted(p.relative_to(project).as_posix()
                            for p in (project / GENERATED_DIR).glob("*.cpp")),
                ]  # fmt: skip
                includes = [*include_dirs(image, project), library.src]
                # ours first, against the library's headers: a ref whose API the backend no
                # longer matches fails in seconds, before the library's minutes of compiling
                objects = compile_project(
                    project, sources, ours, toolchain, includes, log_path,
                    lambda s: progress.line(f"Compiling {s.name}"),
                )  # fmt: skip
                lib = build_library(
                    library, flags, toolchain, log_path, lambda s: progress.line(f"Compiling {s}")
                )
                progress.line("Linking firmware.elf")
                link_elf(project, objects, ours, toolchain, [lib.archive], log_path)
                stats = {"reused": False, "library": lib.describe(), "compiled": len(sources)}
                self._check_fits(read_elf_sizes(elf), inputs.arena_size)
                stamp.write_text(ident)
        sizes = read_elf_sizes(elf)
        return Image(
            board=self.spec,
            model=model,
            image_hash=ident,
            arena_size=inputs.arena_size,
            flash_bytes=sizes.flash,
            ram_bytes=sizes.ram,
            provenance=Provenance.EMULATED,
            path=elf,
            extra={
                "project": str(project),
                "machine": self.emulation.machine,
                "pins": dict(pins.items()),
                "library_commit": library.commit,
                "sizes": "from the emulation image's ELF: no Arduino core, no USB stack",
                "warnings": compat_warnings(model, pins),
                **stats,
            },
        )

    def _check_fits(self, sizes: ElfSizes, arena: int) -> None:
        """The image plus the Arduino core it lacks (the catalog's estimated footprint) must
        fit the board, or the board's build would fail."""
        flash, ram = self.spec.footprint_flash_bytes, self.spec.footprint_ram_bytes
        core = [
            SectionSize("arduino-core (estimated)", flash, 0, True, False),
            SectionSize("arduino-core-ram (estimated)", ram, 0, False, True),
        ]
        with_core = ElfSizes(
            sizes.flash + self.spec.footprint_flash_bytes,
            sizes.ram + self.spec.footprint_ram_bytes,
            (*sizes.sections, *core),
        )
        check_fits(self.spec, with_core, app_limits(self.spec), arena)
