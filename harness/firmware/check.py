"""``tflm-hil firmware check``: every file of a board's firmware compiled against a real Arduino
core, without PlatformIO.

A project copy is generated for the model (harness/firmware/project.py); every C/C++ file of
it (ours: src/, lib/, the generated sources) and of the pinned TFLM library (the parts the
board's build compiles: scripts/hil_pre.py) is compiled with the core's recipe at the
version's tag (harness/firmware/core_recipe.py) and the env's own build_flags from
platformio.ini, as PlatformIO's builder passes them. Errors and warnings are reported for our
files apart from third-party ones (a diagnostic belongs to the file it points at, so a warning
inside a TFLM header seen from our file is the library's). Nothing is linked: the core's
prebuilt ``libmbed.a`` is not fetched, and the report says so.

The compiles go through ccache when it is installed (``apt-get install ccache``): a second
check against the same core version and library ref (another model, a changed file of ours)
compiles only what changed.
"""

from __future__ import annotations

import fnmatch
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from filelock import FileLock

from ..boards.catalog import BoardSpec
from ..errors import ConfigError
from ..paths import cache_dir, example_dir
from ..tflite.model import TfliteModel
from .arduino_core import CoreCheckout, require_core
from .core_recipe import CoreRecipe
from .cross import C_SUFFIXES, CXX_SUFFIXES, Compiled, Toolchain, run_compiles
from .library import LibraryCheckout, require_library
from .pins import Pins
from .pio_env import env_flags
from .project import choose_arena, generate_project

# The library's parts the board's build leaves out (firmware/scripts/hil_pre.py's
# UNUSED_LIBRARY_SOURCES and KEPT_LIBRARY_SOURCES; a unit test holds the two equal).
UNUSED_LIBRARY_SOURCES = ("*/src/peripherals/*", "*/src/test_over_serial/*")
KEPT_LIBRARY_SOURCES = ("utility_arduino.cpp",)
OUR_ROOTS = ("src", "lib")
NOT_LINKED = (
    "not linked: the core's prebuilt mbed OS archive (variants/{variant}/libs/libmbed.a) is "
    "not fetched, so only a PlatformIO build can link and size the image"
)
_DIAG_RE = re.compile(
    r"^(?P<path>[^\s:][^:]*):(?P<line>\d+):(?:\d+:)? (?P<kind>fatal error|error|warning): "
    r"(?P<message>.*)$"
)


def example_model() -> Path:
    """The model a check generates sources for when none is given: the example digits CNN."""
    return example_dir("digits") / "digits_int8.tflite"


@dataclass(frozen=True)
class Diagnostic:
    path: str  # relative to the project copy for ours; absolute for third-party files
    line: int
    kind: str  # "error" or "warning"
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.kind}: {self.message}"


@dataclass
class CheckReport:
    board: str
    env: str
    core: str  # the core version
    core_arch: str
    tflm_ref: str
    ours: list[str] = field(default_factory=list)  # our files compiled (project-relative)
    library_files: int = 0
    library_compiled: bool = False  # False when our files failed first
    failed_files: list[str] = field(default_factory=list)
    our_diagnostics: list[Diagnostic] = field(default_factory=list)
    third_party: list[Diagnostic] = field(default_factory=list)
    not_done: list[str] = field(default_factory=list)
    log: str = ""

    def count(self, kind: str, ours: bool = True) -> int:
        diags = self.our_diagnostics if ours else self.third_party
        return sum(1 for d in diags if d.kind == kind)

    @property
    def ok(self) -> bool:
        """Every file compiled and our files gave no warning."""
        return not self.failed_files and not self.our_diagnostics

    def first_error(self) -> str:
        """The first error, ours before third-party ones; "" when nothing failed."""
        for diags in (self.our_diagnostics, self.third_party):
            for d in diags:
                if d.kind == "error":
                    return str(d)
        return (
            f"{self.failed_files[0]}: did not compile (log: {self.log})"
            if self.failed_files
            else ""
        )

    def to_dict(self) -> dict[str, object]:
        return {
            "board": self.board, "env": self.env, "arduino_core": self.core,
            "core_arch": self.core_arch, "tflm_ref": self.tflm_ref,
            "our_files": len(self.ours), "library_files": self.library_files,
            "library_compiled": self.library_compiled,
            "errors": self.count("error"), "warnings": self.count("warning"),
            "third_party_errors": self.count("error", ours=False),
            "third_party_warnings": self.count("warning", ours=False),
            "failed_files": self.failed_files, "first_error": self.first_error(),
            "diagnostics": [str(d) for d in self.our_diagnostics],
            "not_done": self.not_done, "log": self.log,
        }  # fmt: skip


def library_sources(src: Path) -> list[Path]:
    """The library's C/C++ files the board's build compiles (scripts/hil_pre.py's filter)."""
    out = []
    for p in sorted(src.rglob("*")):
        if p.suffix not in C_SUFFIXES + CXX_SUFFIXES or not p.is_file():
            continue
        unused = any(fnmatch.fnmatch(p.as_posix(), pat) for pat in UNUSED_LIBRARY_SOURCES)
        if unused and p.name not in KEPT_LIBRARY_SOURCES:
            continue
        out.append(p)
    return out


def our_sources(project: Path) -> list[Path]:
    return sorted(
        p
        for top in OUR_ROOTS
        for p in (project / top).rglob("*")
        if p.suffix in C_SUFFIXES + CXX_SUFFIXES and p.is_file()
    )


def parse_diagnostics(output: str, project: Path) -> tuple[list[Diagnostic], list[Diagnostic]]:
    """(ours, third-party) diagnostics of one compile's output, each once."""
    ours: list[Diagnostic] = []
    third: list[Diagnostic] = []
    root = project.resolve()
    for line in output.splitlines():
        m = _DIAG_RE.match(line.strip())
        if not m:
            continue
        path = Path(m["path"]).resolve()
        kind = "warning" if m["kind"] == "warning" else "error"
        if path.is_relative_to(root):
            ours.append(
                Diagnostic(path.relative_to(root).as_posix(), int(m["line"]), kind, m["message"])
            )
        else:
            third.append(Diagnostic(str(path), int(m["line"]), kind, m["message"]))
    return ours, third


def include_path(project: Path, library: LibraryCheckout, recipe: CoreRecipe) -> list[Path]:
    """PlatformIO's include path: the project's src/ and include/, every private library's
    source folder, the TFLM library's, then the framework's (the recipe adds its own after)."""
    private = sorted({p.parent for p in (project / "lib").glob("*/src/*.h")})
    return [project / "src", project / "include", *private, library.src, *recipe.core_includes()]


def _unique(diags: list[Diagnostic]) -> list[Diagnostic]:
    return list(dict.fromkeys(diags))  # a header's warning is seen from every file including it


def _apply_unflags(cmd: list[str], unflags: list[str]) -> list[str]:
    """PlatformIO's build_unflags: those flags removed from the framework's command."""
    return [c for c in cmd if c not in unflags] if unflags else cmd


def check_firmware(
    spec: BoardSpec,
    pins: Pins,
    model: TfliteModel,
    *,
    arena: int | None = None,
    core: CoreCheckout | None = None,
    library: LibraryCheckout | None = None,
    toolchain: Toolchain | None = None,
    work: Path | None = None,
    emit: Callable[[str], None] = print,
) -> CheckReport:
    """Compiles the board's firmware for ``model`` against the core and library at ``pins``."""
    if not spec.arduino_board:
        raise ConfigError(
            f"{spec.id} names no arduino_board (its boards.txt id) in the catalog: the firmware "
            "check does not know which of the core's boards it is"
        )
    core = core or require_core(pins.arduino_core)
    library = library or require_library(pins.tflm_ref)
    toolchain = toolchain or Toolchain.find()
    split_arch = spec.arduino_core.split(":")[-1]
    recipe = CoreRecipe.load(core, spec.arduino_board, split_arch, str(Path(toolchain.gcc).parent))
    env = spec.platformio.env
    flags, unflags = env_flags(env, pins)
    work = work or cache_dir() / "firmware-check" / f"{env}-{core.version}-{pins.tflm_ref[:12]}"
    report = CheckReport(spec.id, env, core.version, recipe.arch, pins.tflm_ref)
    work.mkdir(parents=True, exist_ok=True)
    with FileLock(str(work) + ".lock"):
        project = generate_project(
            model, spec, work / "project", choose_arena(model, spec.ram_bytes, arena), pins
        ).dir
        log = work / "check.log"
        log.unlink(missing_ok=True)
        report.log = str(log)
        ours = our_sources(project)
        lib = library_sources(library.src)
        report.ours = [p.relative_to(project).as_posix() for p in ours]
        report.library_files = len(lib)
        includes = include_path(project, library, recipe)
        launcher = [ccache] if (ccache := shutil.which("ccache")) else []
        with tempfile.TemporaryDirectory(dir=work) as objdir:

            def commands(sources: list[Path], first: int) -> list[tuple[Path, list[str]]]:
                out = []
                for n, src in enumerate(sources, first):
                    cmd = recipe.command(src, Path(objdir) / f"{n}.o", includes, flags)
                    out.append((src, [*launcher, *_apply_unflags(cmd, unflags)]))
                return out

            emit(
                f"compiling {len(ours)} files of ours, then {len(lib)} of the TFLM library "
                f"{pins.tflm_ref[:12]}, against ArduinoCore-mbed {core.version} ({recipe.arch}); "
                f"log: {log}"
            )
            # ccache's own directory; the work folder is not part of a key. The recipe's -g3
            # puts every macro definition in the preprocessed text that ccache hashes, so a
            # result serves the same core version again (and any model), not another version.
            ccache_env = {"CCACHE_DIR": str(cache_dir() / "ccache"), "CCACHE_NOHASHDIR": "1"}
            results = run_compiles(commands(ours, 0), log, extra_env=ccache_env)
            if all(r.ok for r in results):
                results += run_compiles(commands(lib, len(ours)), log, extra_env=ccache_env)
                report.library_compiled = True
            else:  # our glue does not build with this core: that is the answer, and it is quick
                report.not_done.append(
                    f"the TFLM library's {len(lib)} files were not compiled: ours failed first"
                )
        _collect(report, results, project)
    report.not_done.append(NOT_LINKED.format(variant=recipe.variant_dir.name))
    return report


def _collect(report: CheckReport, results: list[Compiled], project: Path) -> None:
    ours: list[Diagnostic] = []
    third: list[Diagnostic] = []
    for done in results:
        o, t = parse_diagnostics(done.output, project)
        ours += o
        third += t
        if not done.ok:
            src = done.src.resolve()
            root = project.resolve()
            report.failed_files.append(
                src.relative_to(root).as_posix() if src.is_relative_to(root) else str(src)
            )
    report.our_diagnostics = _unique(ours)
    report.third_party = _unique(third)
