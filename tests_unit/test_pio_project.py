"""The PlatformIO project: pins resolved through the real `pio project config`, every catalog board
has its env, the pre-build script, and PlatformIO's command lines, runs and failures."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import types
from pathlib import Path

import pytest

from harness.boards.catalog import load_catalog
from harness.errors import BuildError, ConfigError, FlashError
from harness.firmware.pins import Pins, default_pins, resolve_pins
from harness.firmware.progress import BuildProgress
from harness.firmware.project import generate_project
from harness.paths import firmware_dir
from harness.pio import cmd as pio_cmd
from harness.pio.probe import harness_touches
from harness.tflite.model import TfliteModel
from harness.tflite.synthetic import fc_model

from .tiny_tflite import tiny_model

CATALOG = load_catalog()
DEFAULTS = default_pins()


def pio_config(project: Path, env_vars: dict[str, str | None]) -> dict[str, dict]:
    """`pio project config --json-output` as {section: {option: value}}, with these variables."""
    env = pio_cmd.pio_environ(DEFAULTS, project / ".cache")
    for key, value in env_vars.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    out = subprocess.run(
        pio_cmd.config_command(pio_cmd.pio_command(), project),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    return {section: dict(options) for section, options in json.loads(out.stdout)}


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("pio") / "project"
    generate_project(tiny_model(["CONV_2D"]), CATALOG["nano33"], out, 4096, DEFAULTS)
    return out


def test_pins_resolve_from_the_environment_in_every_env(project):
    cfg = pio_config(project, {"HIL_TFLM_REF": "0123abcd", "HIL_ARDUINO_CORE": "4.4.1"})
    assert cfg["hil"]["tflm_ref"] == "0123abcd"
    envs = [s for s in cfg if s.startswith("env:")]
    test_envs = {f"env:{b.platformio.env}" for b in CATALOG.values()}
    assert test_envs <= set(envs)
    for section in sorted(test_envs):
        opts = cfg[section]
        assert opts["lib_deps"] == [
            "hil_core",
            "https://github.com/tensorflow/tflite-micro-arduino-examples.git#0123abcd",
        ], section
        assert opts["build_src_filter"] == ["+<app/> +<arduino/> +<tflm/> +<generated/>"]
        assert opts["platform_packages"] == ["platformio/framework-arduino-mbed @ 4.4.1"], section
        assert '-DHIL_TFLM_VERSION=\\"0123abcd\\"' in opts["build_flags"], section
        assert '-DHIL_CORE_VERSION=\\"arduino-mbed-4.4.1\\"' in opts["build_flags"], section
        assert "-DARDUINO_EXCLUDE_CODE" in opts["build_flags"], section
        assert any(f.startswith("-DHIL_NOINIT_SECTION=") for f in opts["build_flags"]), section
        assert opts["extra_scripts"] == ["pre:scripts/hil_pre.py"]


def test_the_harness_environment_resolves_to_the_default_pins(project):
    cfg = pio_config(project, {})  # pio_environ() alone: what the driver runs pio with
    assert cfg["hil"]["tflm_ref"] == DEFAULTS.tflm_ref == cfg["hil"]["default_tflm_ref"]
    assert cfg["hil"]["arduino_core"] == DEFAULTS.arduino_core
    assert cfg["env:nano33ble"]["platform_packages"] == [
        f"platformio/framework-arduino-mbed @ {DEFAULTS.arduino_core}"
    ]


def test_an_unset_pin_resolves_empty_and_the_pre_script_stops_the_build(project):
    """PlatformIO's behaviour the design relies on: unset ${sysenv.X} is "", not an error."""
    cfg = pio_config(project, {"HIL_TFLM_REF": None, "HIL_ARDUINO_CORE": None})
    assert cfg["hil"]["tflm_ref"] == "" and cfg["hil"]["arduino_core"] == ""
    assert cfg["env:nano33ble"]["lib_deps"][-1].endswith(".git#")
    pre = load_pre_script()
    exits: list[int] = []
    fake_env = FakeSconsEnv(cfg["hil"], exits)
    with pytest.raises(SystemExit):
        pre.configure(fake_env)
    assert exits == [1] and fake_env.middlewares == []
    assert pre.missing_pins(FakeConfig(cfg["hil"])) == ["HIL_TFLM_REF", "HIL_ARDUINO_CORE"]


def test_every_catalog_board_has_a_matching_env(project):
    cfg = pio_config(project, {})
    for board in CATALOG.values():
        opts = cfg[f"env:{board.platformio.env}"]
        assert opts["board"] == board.platformio.board, board.id
        assert opts["platform"].split("@")[0].strip() == board.platformio.platform, board.id
        assert "@" in opts["platform"], f"{board.id}: pin the platform version"
        assert opts["upload_protocol"] == board.platformio.upload_protocol, board.id
        # Either the harness touches and finds the bootloader by serial number, or PlatformIO
        # does it; never both.
        pio_touch_off = opts.get("board_upload.use_1200bps_touch") == "no"
        assert pio_touch_off == harness_touches(board), board.id
        assert (opts.get("board_upload.wait_for_upload_port") == "no") == harness_touches(board)


def test_default_pins_are_read_from_platformio_ini():
    assert Pins("7948b85e020470a30a83bf00e10fc43b486bfcba", "4.5.0") == DEFAULTS


def test_resolve_pins_prefers_the_environment_and_checks_values():
    assert resolve_pins({}) == DEFAULTS
    assert resolve_pins({"HIL_TFLM_REF": " ", "HIL_ARDUINO_CORE": ""}) == DEFAULTS
    assert resolve_pins({"HIL_TFLM_REF": "v1.2", "HIL_ARDUINO_CORE": "~4.4.1"}) == Pins(
        "v1.2", "~4.4.1"
    )
    with pytest.raises(ConfigError, match="HIL_TFLM_REF"):
        resolve_pins({"HIL_TFLM_REF": 'main"; rm -rf'})
    with pytest.raises(ConfigError, match="HIL_ARDUINO_CORE"):
        resolve_pins({"HIL_ARDUINO_CORE": ">=4.0 <5"})


def test_pio_environ_sets_pins_and_a_known_build_dir(tmp_path):
    base = {"PATH": "/bin", "PLATFORMIO_BUILD_DIR": "/elsewhere", "PLATFORMIO_WORKSPACE_DIR": "/w"}
    env = pio_cmd.pio_environ(Pins("abc", "4.5.0"), tmp_path, base)
    assert env["HIL_TFLM_REF"] == "abc" and env["HIL_ARDUINO_CORE"] == "4.5.0"
    assert "PLATFORMIO_BUILD_DIR" not in env and "PLATFORMIO_WORKSPACE_DIR" not in env
    assert env["PLATFORMIO_LIBDEPS_DIR"].startswith(str(tmp_path / "libdeps"))
    other = pio_cmd.pio_environ(Pins("def", "4.5.0"), tmp_path, base)
    assert other["PLATFORMIO_LIBDEPS_DIR"] != env["PLATFORMIO_LIBDEPS_DIR"]  # one per TFLM ref
    assert env["PATH"] == "/bin"


# ---- the pre-build script --------------------------------------------------------------------


def load_pre_script() -> types.ModuleType:
    path = firmware_dir() / "scripts" / "hil_pre.py"
    spec = importlib.util.spec_from_file_location("hil_pre_under_test", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class FakeConfig:
    def __init__(self, hil: dict[str, str]):
        self.hil = hil

    def get(self, section: str, option: str):
        assert section == "hil"
        return self.hil.get(option)


class FakeSconsEnv:
    def __init__(self, hil: dict[str, str], exits: list[int]):
        self.config = FakeConfig(hil)
        self.exits = exits
        self.middlewares: list = []

    def GetProjectConfig(self):
        return self.config

    def Exit(self, code: int) -> None:
        self.exits.append(code)
        raise SystemExit(code)  # as SCons' Exit does

    def AddBuildMiddleware(self, callback, pattern=None) -> None:
        self.middlewares.append((callback, pattern))


class FakeNode:
    def __init__(self, path: str):
        self.path = path
        self.name = path.rsplit("/", 1)[-1]

    def srcnode(self):
        return self

    def get_path(self) -> str:
        return self.path


def test_pre_script_leaves_out_the_unused_library_parts():
    pre = load_pre_script()
    exits: list[int] = []
    env = FakeSconsEnv({"tflm_ref": "abc", "arduino_core": "4.5.0"}, exits)
    pre.configure(env)
    assert exits == [] and len(env.middlewares) == 1
    keep, _ = env.middlewares[0]
    lib = ".pio/libdeps/nano33ble/Arduino_TensorFlowLite/src"
    for dropped in (
        "peripherals/i2s_nrf52840.cpp",
        "peripherals/button_arduino.cpp",
        "test_over_serial/test_over_serial.cpp",
    ):
        assert keep(FakeNode(f"{lib}/{dropped}")) is None, dropped
    for kept in (
        "peripherals/utility_arduino.cpp",
        "tensorflow/lite/micro/micro_time.cpp",
        "tensorflow/lite/micro/kernels/cmsis_nn/conv.cpp",
    ):
        node = FakeNode(f"{lib}/{kept}")
        assert keep(node) is node, kept
    project_src = FakeNode("src/main.cpp")
    assert keep(project_src) is project_src


# ---- command lines, runs, failures -----------------------------------------------------------


def test_command_lines(tmp_path):
    pio = ["/venv/bin/python", "-m", "platformio"]
    assert pio_cmd.build_command(pio, tmp_path, "nano33ble") == [
        *pio,
        "run",
        "-e",
        "nano33ble",
        "-d",
        str(tmp_path),
    ]
    assert pio_cmd.upload_command(pio, tmp_path, "nano33ble", "/dev/ttyACM1") == [
        *pio,
        "run",
        "-e",
        "nano33ble",
        "-d",
        str(tmp_path),
        "-t",
        "nobuild",
        "-t",
        "upload",
        "--upload-port",
        "/dev/ttyACM1",
    ]
    assert pio_cmd.config_command(pio, tmp_path) == [
        *pio,
        "project",
        "config",
        "--json-output",
        "-d",
        str(tmp_path),
    ]
    assert pio_cmd.firmware_elf(tmp_path, "nano33ble") == (
        tmp_path / ".pio" / "build" / "nano33ble" / "firmware.elf"
    )


def test_pio_command_override_and_missing_platformio(monkeypatch):
    monkeypatch.setenv("TFLM_HIL_PIO", "/opt/pio/bin/pio --no-ansi")
    assert pio_cmd.pio_command() == ["/opt/pio/bin/pio", "--no-ansi"]
    monkeypatch.delenv("TFLM_HIL_PIO")
    assert pio_cmd.pio_command() == [sys.executable, "-m", "platformio"]  # installed here
    monkeypatch.setattr(pio_cmd.importlib.util, "find_spec", lambda name: None)
    monkeypatch.setattr(pio_cmd.shutil, "which", lambda name: None)
    with pytest.raises(BuildError, match=r"PlatformIO is not installed.*tflm-hil\[pio\].*sim:"):
        pio_cmd.pio_command()


def test_run_streaming_logs_and_streams_every_line(tmp_path):
    lines: list[str] = []
    log = tmp_path / "logs" / "build.log"
    code = "import sys\nfor i in range(3): print('Compiling', i, flush=True)\nsys.exit(4)"
    rc = pio_cmd.run_streaming([sys.executable, "-c", code], {}, log, lines.append, 60)
    assert rc == 4
    assert lines == ["Compiling 0", "Compiling 1", "Compiling 2"]
    text = log.read_text()
    assert "Compiling 2\n" in text and "[exit 4]" in text


def test_run_streaming_kills_a_run_past_its_timeout(tmp_path):
    code = "import time\nprint('start', flush=True)\ntime.sleep(60)"
    with pytest.raises(TimeoutError, match="longer than"):
        pio_cmd.run_streaming(
            [sys.executable, "-c", code], {}, tmp_path / "l.log", lambda _: None, 0.5
        )


def test_progress_reports_each_step_with_the_compiled_count():
    now = [0.0]
    seen: list[str] = []
    p = BuildProgress("build nano33ble", seen.append, clock=lambda: now[0], every_s=100)
    for line in [
        "Library Manager: Installing git+https://github.com/x.git",
        "Compiling .pio/build/a.o",
        "Compiling .pio/build/b.o",
        "Compiling .pio/build/c.o",
        "Linking .pio/build/nano33ble/firmware.elf",
        "Checking size .pio/build/x.elf",
    ]:
        now[0] += 1
        p.line(line)
    assert seen == [
        "[build nano33ble] installing packages (1 s)",
        "[build nano33ble] compiling, 1 files compiled (2 s)",
        "[build nano33ble] linking, 3 files compiled (5 s)",
        "[build nano33ble] checking size, 3 files compiled (6 s)",
    ]
    assert p.tail[-1].startswith("Checking size")


@pytest.mark.parametrize(
    ("tail", "expected"),
    [
        (
            [
                "Error: The program size (1200000 bytes) is greater than maximum allowed "
                "(983040 bytes)"
            ],
            r"1200000 bytes, over the 983040 bytes of flash",
        ),
        (
            ["ld: region `RAM' overflowed by 5120 bytes", "collect2: error: ld returned 1"],
            r"overflows the RAM region by 5120 bytes",
        ),
        (
            ["UnknownPackageError: Could not find the package with 'platformio/nordicnrf52'"],
            r"could not fetch a package for nano33ble .*fill the PlatformIO cache",
        ),
        (
            [
                "fatal: unable to access 'https://github.com/tensorflow/x.git/': "
                "Could not resolve host"
            ],
            r"could not fetch a package",
        ),
        (
            ["src/tflm_backend.cpp:40:3: error: 'Foo' was not declared in this scope", "*** [x] 1"],
            r"failed \(log: .*\):\nsrc/tflm_backend.cpp:40:3: error: 'Foo'",
        ),
        (["Error: tflm-hil version pins are unset: HIL_TFLM_REF."], r"without its version pins"),
    ],
)
def test_build_failures_are_classified(tmp_path, tail, expected):
    err = pio_cmd.build_failure(tail, tmp_path / "b.log", "nano33ble")
    assert isinstance(err, BuildError)
    assert err.category == "build"
    assert str(tmp_path / "b.log") in str(err)
    assert __import__("re").search(expected, str(err)), str(err)


@pytest.mark.parametrize(
    ("tail", "hint"),
    [
        (
            ["dfu-util: Cannot open DFU device 2341:035b found on devnum 5 (LIBUSB_ERROR_ACCESS)"],
            "udev rules",
        ),
        (["No DFU capable USB device available"], "double-tap"),
        (["No accessible RP2040 devices in BOOTSEL mode were found."], "BOOTSEL"),
        (["bossac: could not open port ttyACM1"], "vanished"),
    ],
)
def test_upload_failures_are_classified(tmp_path, tail, hint):
    err = pio_cmd.upload_failure(tail, tmp_path / "u.log", "/dev/ttyACM1")
    assert isinstance(err, FlashError) and err.category == "flash"
    assert hint in str(err) and "/dev/ttyACM1" in str(err)


def test_forwarder_env_builds_the_forwarder_alone(project):
    """The data-forwarder firmware: its own folder, its module and the IMU; no model, no TFLM."""
    opts = pio_config(project, {"HIL_TFLM_REF": "0123abcd", "HIL_ARDUINO_CORE": "4.4.1"})[
        "env:nano33ble_forwarder"
    ]
    assert opts["board"] == "nano33ble"
    assert opts["build_src_filter"] == ["+<forwarder/>"]
    assert [d.split("@")[0].strip() for d in opts["lib_deps"]] == [
        "hil_forwarder",
        "arduino-libraries/Arduino_LSM9DS1",
    ]
    src = (firmware_dir() / "src" / "forwarder" / "forwarder_main.cpp").read_text()
    assert '#include "hil_forwarder.h"' in src
    # the test firmware's copy holds none of it
    assert not (project / "src" / "forwarder").exists()
    assert not (project / "lib" / "hil_forwarder").exists()


def test_mlperf_env_builds_the_mlperf_dut(project):
    """The MLPerf Tiny DUT firmware (image mlperf): the test firmware's TFLM backend and board
    support behind the MLPerf module, its benchmark settings from the generated image header."""
    opts = pio_config(project, {"HIL_TFLM_REF": "0123abcd", "HIL_ARDUINO_CORE": "4.4.1"})[
        "env:nano33ble_mlperf"
    ]
    assert opts["board"] == "nano33ble"
    assert opts["build_src_filter"] == ["+<mlperf/> +<arduino/> +<tflm/> +<generated/>"]
    assert opts["lib_deps"][0] == "hil_mlperf" and "0123abcd" in opts["lib_deps"][1]
    src = (firmware_dir() / "src" / "mlperf" / "mlperf_main.cpp").read_text()
    assert '#include "hil_mlperf.h"' in src
    header = (project / "src" / "generated" / "hil_image.h").read_text()
    for macro in ("MODEL_VERSION", "CONVERT", "RESULTS", "DB_BYTES", "BAUD"):
        assert f"#define HIL_MLPERF_{macro} " in header and f"HIL_MLPERF_{macro}" in src


def test_generate_writes_the_image_of_the_env_asked(tmp_path):
    """``tflm-hil firmware generate --env nano33ble_mlperf``: the MLPerf DUT's copy, not ours."""
    model = tiny_model(["CONV_2D"])
    ours = generate_project(model, CATALOG["nano33"], tmp_path / "a", 4096, DEFAULTS)
    dut = generate_project(
        model, CATALOG["nano33"], tmp_path / "b", 4096, DEFAULTS, "nano33ble_mlperf"
    )
    assert dut.env == "nano33ble_mlperf" and dut.image_hash != ours.image_hash
    assert {"src/mlperf/mlperf_main.cpp", "lib/hil_mlperf/src/hil_mlperf.c"} <= set(dut.files)
    assert "src/app/main.cpp" not in dut.files and "src/mlperf/mlperf_main.cpp" not in ours.files


def test_generate_names_the_benchmark_of_a_model_of_ones_own(tmp_path):
    """``--mlperf-model kws01``: a retrained keyword spotter answers ``m-model-[kws01]`` (the
    runner's id) with kws01's conversion and db buffer, not its hash."""
    path = tmp_path / "kws_mine.tflite"
    path.write_bytes(fc_model(490, 12, seed=2))
    model = TfliteModel.load(path)
    nano, env = CATALOG["nano33"], "nano33ble_mlperf"
    plain = generate_project(model, nano, tmp_path / "a", 4096, DEFAULTS, env)
    named = generate_project(model, nano, tmp_path / "b", 4096, DEFAULTS, env, "kws01")
    header = (tmp_path / "b" / "src" / "generated" / "hil_image.h").read_text()
    assert '#define HIL_MLPERF_MODEL_VERSION "kws01"' in header
    assert "#define HIL_MLPERF_DB_BYTES 490u" in header
    assert "HIL_MLPERF_CONVERT_NONE" in header and "HIL_MLPERF_RESULTS_OUTPUTS" in header
    plain_header = (tmp_path / "a" / "src" / "generated" / "hil_image.h").read_text()
    assert f'"sha256-{model.sha256[:16]}"' in plain_header
    assert named.image_hash != plain.image_hash  # the id is part of the image
    with pytest.raises(ConfigError, match="ic01 sends 3072"):
        generate_project(model, nano, tmp_path / "c", 4096, DEFAULTS, env, "ic01")
    with pytest.raises(ConfigError, match="add --env nano33ble_mlperf"):
        generate_project(model, nano, tmp_path / "d", 4096, DEFAULTS, None, "kws01")
