"""`tflm-hil firmware check`: the core's recipe read from its own files, the env's flags read
from platformio.ini, diagnostics split between our files and third-party ones, the core and
its ArduinoCore-API fetched like the TFLM library; and, with the core and library fetched, the
real check of the Nano 33 BLE firmware (skipped, naming the fetch commands, without them)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
from pathlib import Path

import pytest

from harness.boards.catalog import load_catalog
from harness.errors import ConfigError
from harness.firmware import arduino_core, check
from harness.firmware.arduino_core import CoreCheckout, fetch_core, find_core
from harness.firmware.check import (
    check_firmware,
    library_sources,
    parse_diagnostics,
)
from harness.firmware.cli import summarise
from harness.firmware.core_recipe import CoreRecipe, architecture, board_properties, expand
from harness.firmware.library import fetch_command, find_library
from harness.firmware.pins import Pins, resolve_pins
from harness.firmware.pio_env import env_flags
from harness.paths import cache_dir, firmware_dir
from harness.tflite.model import TfliteModel

from .conftest import DIGITS_MODEL

# The shape of ArduinoCore-mbed's platform.txt and boards.txt (4.5.0), cut to what a compile
# reads: the recipe refers to properties that refer to others, and to the board's entries.
PLATFORM_TXT = """\
name=Arduino Mbed OS Boards
compiler.warning_flags=-w
compiler.warning_flags.all=-Wall -Wextra
compiler.path={build.compiler_path}
compiler.cpp.cmd={build.crossprefix}g++
compiler.cpp.flags=-c {compiler.warning_flags} -g3 -nostdlib "@{compiler.mbed.defines}" \
"@{compiler.mbed.cxxflags}" {compiler.mbed.arch.define} -MMD -mcpu={build.mcu} \
{build.float-abi} {build.fpu}
build.extra_flags=
build.library_discovery_phase=0
build.library_discovery_phase_flag=-DARDUINO_LIBRARY_DISCOVERY_PHASE={build.library_discovery_phase}
recipe.cpp.o.pattern="{compiler.path}{compiler.cpp.cmd}" {compiler.cpp.flags} \
-DARDUINO={runtime.ide.version} -DARDUINO_{build.board} -DARDUINO_ARCH_{build.arch} \
-DARDUINO_ARCH_MBED {build.library_discovery_phase_flag} {includes} {build.extra_flags} \
"-I{build.core.path}/api/deprecated" "-iprefix{build.core.path}" "@{compiler.mbed.includes}" \
"{source_file}" -o "{object_file}"
""".replace("\\\n", "")
BOARDS_TXT = """\
nano33ble.name=Arduino Nano 33 BLE
nano33ble.build.crossprefix=arm-none-eabi-
nano33ble.build.variant=ARDUINO_NANO33BLE
nano33ble.build.mcu=cortex-m4
nano33ble.build.fpu=-mfpu=fpv4-sp-d16
nano33ble.build.float-abi=-mfloat-abi=softfp
nano33ble.build.board=ARDUINO_NANO33BLE
nano33ble.compiler.mbed.arch.define=-DARDUINO_ARCH_NRF52840
nano33ble.compiler.mbed.defines={build.variant.path}/defines.txt
nano33ble.compiler.mbed.cxxflags={build.variant.path}/cxxflags.txt
nano33ble.compiler.mbed.includes={build.variant.path}/includes.txt
"""


def fake_core(root: Path, split: bool = True) -> CoreCheckout:
    variant = root / "variants" / "ARDUINO_NANO33BLE"
    variant.mkdir(parents=True)
    (root / "cores" / "arduino").mkdir(parents=True)
    (root / "cores" / "arduino" / "Arduino.h").write_text("#include \"api/Common.h\"\n")
    (root / "platform.txt").write_text(PLATFORM_TXT)
    (root / "boards.txt").write_text(BOARDS_TXT)
    for name in ("defines", "cxxflags", "includes"):
        (variant / f"{name}.txt").write_text("")
    if split:  # 2.x-4.4's release template: one package per architecture
        (root / "extras").mkdir()
        (root / "extras" / "package_index.json.NewTag.template").write_text(
            '{"platforms": [{"architecture": "mbed", "version": %%VERSION%%},\n'
            ' {"architecture": "mbed_nano", "boards": [{"name": "Arduino Nano 33 BLE"}]}]}'
        )
    return CoreCheckout("9.9.9", "0" * 40, "file:///core", root)


def test_the_recipe_gives_the_cores_command_with_the_projects_flags_last(tmp_path):
    core = fake_core(tmp_path / "core")
    recipe = CoreRecipe.load(core, "nano33ble", "mbed_nano", "/opt/arm/bin")
    variant = core.variant_dir("ARDUINO_NANO33BLE")
    cmd = recipe.command(
        Path("/p/src/main.cpp"), Path("/o/0.o"), [Path("/p/src")], ["-mfloat-abi=hard"]
    )
    assert cmd[0] == "/opt/arm/bin/arm-none-eabi-g++"
    # PlatformIO's warnings (never -w), its ARDUINO define; the architecture of the package
    assert "-w" not in cmd and cmd[2:4] == ["-Wall", "-Wextra"]
    assert "-DARDUINO=10810" in cmd and "-DARDUINO_ARCH_MBED_NANO" in cmd
    assert f"@{variant}/defines.txt" in cmd and f"@{variant}/includes.txt" in cmd
    assert f"-iprefix{core.core_dir}" in cmd and "-I/p/src" in cmd
    # the project's flags come after the board's own, so the project's ABI wins
    assert cmd.index("-mfloat-abi=softfp") < cmd.index("-mfloat-abi=hard") == len(cmd) - 1
    assert cmd[-4:-1] == ["/p/src/main.cpp", "-o", "/o/0.o"]


def test_architecture_follows_the_release_templates(tmp_path):
    split = fake_core(tmp_path / "split")
    single = fake_core(tmp_path / "single", split=False)
    assert architecture(split, "mbed_nano") == "mbed_nano"
    assert architecture(split, "mbed_portenta") == "mbed"
    assert architecture(single, "mbed_nano") == "mbed"  # 1.x: one package, "mbed"


def test_unknown_board_and_property_loops_are_named(tmp_path):
    core = fake_core(tmp_path / "core")
    with pytest.raises(ConfigError, match=r"no board 'envie_m7' in boards.txt \(it has nano33ble"):
        CoreRecipe.load(core, "envie_m7", "mbed_portenta", "")
    with pytest.raises(ConfigError, match="loop"):
        expand("{a}", {"a": "{b}", "b": "{a}"})
    assert expand("x{unset}y", {}) == "xy"  # as the Arduino builder leaves an unset property


def test_env_flags_follow_extends_and_interpolation():
    pins = Pins("abc123", "4.5.0")
    flags, _ = env_flags("nano33ble_rev2", pins)  # extends env:nano33ble, which uses ${env...}
    assert '-DHIL_TFLM_VERSION="abc123"' in flags
    assert '-DHIL_CORE_VERSION="arduino-mbed-4.5.0"' in flags
    assert '-DHIL_NOINIT_SECTION=".noinit"' in flags
    forwarder, unflags = env_flags("nano33ble_forwarder", pins)  # no flags of its own
    assert forwarder == flags and unflags == ["-mfloat-abi=soft"]
    with pytest.raises(ConfigError, match=r"no \[env:nosuch\]"):
        env_flags("nosuch", pins)


def test_library_sources_leave_out_what_hil_pre_leaves_out(tmp_path):
    spec = importlib.util.spec_from_file_location("hil_pre", firmware_dir() / "scripts/hil_pre.py")
    assert spec is not None and spec.loader is not None
    hil_pre = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hil_pre)
    assert check.UNUSED_LIBRARY_SOURCES == hil_pre.UNUSED_LIBRARY_SOURCES
    assert check.KEPT_LIBRARY_SOURCES == hil_pre.KEPT_LIBRARY_SOURCES
    src = tmp_path / "lib" / "src"
    for rel in ("tensorflow/a.cc", "peripherals/audio.cpp", "peripherals/utility_arduino.cpp",
                "test_over_serial/t.cpp", "third_party/x.c", "readme.md"):  # fmt: skip
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_text("")
    names = [p.relative_to(src).as_posix() for p in library_sources(src)]
    assert names == ["peripherals/utility_arduino.cpp", "tensorflow/a.cc", "third_party/x.c"]


def test_diagnostics_are_split_between_our_files_and_third_party_ones(tmp_path):
    project = tmp_path / "project"
    (project / "src").mkdir(parents=True)
    output = "\n".join([
        f"In file included from {project}/src/main.cpp:4:",
        "/cache/cores/arduino-mbed/4.5.0/cores/arduino/Arduino.h:26:10: fatal error: "
        "api/Common.h: No such file or directory",
        f"{project}/src/board_support.cpp:48:5: warning: unused variable 'x' [-Wunused-variable]",
        f"{project}/src/main.cpp:12: error: 'Serial' was not declared in this scope",
        "cc1plus: warning: command-line option '-Wvla' is valid for C++ only",
    ])  # fmt: skip
    ours, third = parse_diagnostics(output, project)
    assert [str(d) for d in ours] == [
        "src/board_support.cpp:48: warning: unused variable 'x' [-Wunused-variable]",
        "src/main.cpp:12: error: 'Serial' was not declared in this scope",
    ]
    assert [(d.kind, d.path.endswith("Arduino.h")) for d in third] == [("error", True)]


def _git(repo: Path, *args: str, date: str = "2024-01-01T00:00:00+00:00") -> str:
    env = {"GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date, "HOME": str(repo.parent),
           "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t", "PATH": "/usr/bin:/bin"}  # fmt: skip
    run = subprocess.run(["git", *args], cwd=repo, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    return run.stdout.strip()


def test_fetch_core_links_the_api_the_release_cloned(tmp_path, monkeypatch):
    """The core at its tag; ArduinoCore-API as of the tag's commit time (a later API commit is
    not taken), linked as cores/arduino/api; the prebuilt archives are left out."""
    monkeypatch.setenv("TFLM_HIL_CACHE", str(tmp_path / "cache"))
    core, api = tmp_path / "core", tmp_path / "api"
    fake_core(core)
    (core / "variants" / "ARDUINO_NANO33BLE" / "libs").mkdir()
    (core / "variants" / "ARDUINO_NANO33BLE" / "libs" / "libmbed.a").write_text("archive")
    _git(core, "init", "-q", "-b", "main")
    _git(core, "add", "-A")
    _git(core, "commit", "-qm", "core", date="2024-03-01T12:00:00+00:00")
    _git(core, "tag", "9.9.9")
    (api / "api").mkdir(parents=True)
    _git(api, "init", "-q", "-b", "master")
    for n, date in ((1, "2024-02-01T00:00:00+00:00"), (2, "2024-04-01T00:00:00+00:00")):
        (api / "api" / "Common.h").write_text(f"// API {n}\n")
        _git(api, "add", "-A")
        _git(api, "commit", "-qm", f"api {n}", date=date)
    first_api = _git(api, "rev-parse", "HEAD~1")

    got = fetch_core("9.9.9", str(core), str(api), emit=lambda line: None)
    assert got == find_core("9.9.9")
    assert got.api_commit == first_api
    assert (got.core_dir / "api" / "Common.h").read_text() == "// API 1\n"
    assert not (got.variant_dir("ARDUINO_NANO33BLE") / "libs").exists()
    assert (got.root / "platform.txt").is_file() and (got.root / "extras").is_dir()


def test_an_unfetched_core_names_the_command(tmp_path, monkeypatch):
    monkeypatch.setenv("TFLM_HIL_CACHE", str(tmp_path))
    with pytest.raises(Exception, match=r"tflm-hil firmware fetch-core --arduino-core 2\.5\.2`"):
        arduino_core.require_core("2.5.2")


# ---- the real check: with the core and the TFLM library of the default pins fetched ----------

PINS = resolve_pins()
_missing = [
    cmd
    for cmd, found in (
        (arduino_core.fetch_core_command(PINS.arduino_core), find_core(PINS.arduino_core)),
        (fetch_command(PINS.tflm_ref), find_library(PINS.tflm_ref)),
    )
    if found is None
]
needs_sources = pytest.mark.skipif(
    bool(_missing),
    reason=f"the core and library sources are not in {cache_dir()}: run "
    + " and ".join(f"`{c}`" for c in _missing),
)


@needs_sources
def test_the_nano33_firmware_compiles_clean_against_the_pinned_core(tmp_path):
    spec = load_catalog()["nano33"]
    report = check_firmware(spec, PINS, TfliteModel.load(DIGITS_MODEL), emit=lambda line: None)
    assert report.ours and report.library_files > 100 and report.library_compiled
    assert report.failed_files == [], report.first_error()
    assert report.our_diagnostics == [], "\n".join(map(str, report.our_diagnostics))
    assert any("libmbed.a" in note for note in report.not_done)
    json.dumps(report.to_dict())  # the --json report is serialisable


def test_a_boards_menu_takes_its_first_option_as_the_ide_does(tmp_path):
    core = fake_core(tmp_path / "core")
    with (core.root / "boards.txt").open("a") as f:
        f.write(
            "envie_m7.name=Arduino Portenta H7\n"
            "envie_m7.menu.target_core.cm7.build.variant=PORTENTA_H7_M7\n"
            "envie_m7.menu.target_core.cm4.build.variant=GENERIC_STM32H747_M4\n"
        )
    assert board_properties(core, "envie_m7")["build.variant"] == "PORTENTA_H7_M7"


# A library ref our backend does not build against (before MicroProfilerInterface, 2022-09):
# the check names our first error and leaves the library uncompiled.
OLD_REF = "be1c8b0ee277ebad0c20de9d8dfca121f160ade3"


@pytest.mark.skipif(
    find_core(PINS.arduino_core) is None or find_library(OLD_REF) is None,
    reason=f"run `{arduino_core.fetch_core_command(PINS.arduino_core)}` and "
    f"`{fetch_command(OLD_REF)}`",
)
def test_a_pin_our_glue_does_not_build_against_names_the_first_error():
    spec = load_catalog()["nano33"]
    pins = Pins(OLD_REF, PINS.arduino_core)
    report = check_firmware(spec, pins, TfliteModel.load(DIGITS_MODEL), emit=lambda line: None)
    assert report.failed_files == ["src/tflm/tflm_backend.cpp"]
    assert report.first_error().startswith("src/tflm/tflm_backend.cpp:14: error: ")
    assert "micro_profiler_interface.h" in report.first_error()
    assert not report.library_compiled
    assert any("were not compiled: ours failed first" in note for note in report.not_done)


def test_the_summary_says_what_failed_and_what_was_not_done():
    report = check.CheckReport("nano33", "nano33ble", "1.3.2", "mbed", "be1c8b0ee277ebad")
    report.ours, report.library_files, report.log = ["src/main.cpp"], 237, "/c/check.log"
    report.failed_files = ["src/tflm_backend.cpp"]
    report.our_diagnostics = [check.Diagnostic("src/tflm_backend.cpp", 14, "error", "no file")]
    report.not_done = ["the TFLM library's 237 files were not compiled: ours failed first"]
    text = summarise(report)
    assert "ArduinoCore-mbed 1.3.2 (mbed), TFLM library be1c8b0ee277" in text
    assert "our files: 1 compiled, 1 error, 0 warnings" in text
    assert "TFLM library: 237 files, not compiled" in text
    first = "1 file did not compile; first error:\n    src/tflm_backend.cpp:14: error: no file"
    assert first in text
    assert text.endswith("log: /c/check.log") and not report.ok
