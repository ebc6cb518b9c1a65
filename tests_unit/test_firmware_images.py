"""firmware/images.toml: each image's files, and an image hash that covers only them. Editing
one image's module (the MLPerf peer, the forwarder) must not reflash a board running another."""

from __future__ import annotations

import configparser
import re
import shutil
from pathlib import Path

import pytest

from harness.boards.catalog import load_catalog
from harness.firmware.codegen import ImageInputs
from harness.firmware.images import all_images, closure, firmware_image, library_deps
from harness.firmware.pins import default_pins
from harness.firmware.project import firmware_sources, plan_files
from harness.paths import firmware_dir
from harness.sim.build import source_hash

from .tiny_tflite import tiny_model

FIRMWARE = firmware_dir()
# Headers that come from outside firmware/: the TFLM library and the Arduino core (mbed).
EXTERNAL = re.compile(r"^(tensorflow/|cmsis|rtx_os\.h)")
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.MULTILINE)


@pytest.fixture
def copy(tmp_path) -> Path:
    root = tmp_path / "firmware"
    shutil.copytree(FIRMWARE, root, ignore=shutil.ignore_patterns(".pio", "generated"))
    return root


def _hil_image_hash(root: Path) -> str:
    inputs = ImageInputs(load_catalog()["nano33"], tiny_model(["CONV_2D"]), 4096)
    return plan_files(inputs, default_pins(), firmware_sources("hil", root))[0]


def _edit(path: Path) -> None:
    path.write_text(path.read_text() + "\n/* an edit */\n")


def test_editing_another_images_module_changes_neither_hil_hash(copy):
    image, twin = _hil_image_hash(copy), source_hash("hil", copy)
    mlperf_twin = source_hash("mlperf", copy)
    _edit(copy / "lib" / "hil_mlperf" / "src" / "hil_mlperf.c")
    _edit(copy / "lib" / "hil_forwarder" / "src" / "hil_forwarder.c")
    _edit(copy / "src" / "forwarder" / "forwarder_main.cpp")
    _edit(copy / "src" / "test_backend" / "test_backend.c")
    assert _hil_image_hash(copy) == image and source_hash("hil", copy) == twin
    assert source_hash("mlperf", copy) != mlperf_twin  # the peer's own identity moved
    _edit(copy / "lib" / "hil_core" / "src" / "hil_core.c")
    assert _hil_image_hash(copy) != image and source_hash("hil", copy) != twin


def _ini() -> configparser.ConfigParser:
    ini = configparser.ConfigParser(interpolation=None)
    ini.read(FIRMWARE / "platformio.ini")
    return ini


def _option(ini: configparser.ConfigParser, env: str, key: str) -> str:
    """An env's option as PlatformIO resolves it: its own, its ``extends``, then [env]."""
    section = f"env:{env}"
    while True:
        if ini.has_option(section, key):
            return ini.get(section, key)
        if not ini.has_option(section, "extends"):
            return ini.get("env", key)
        section = ini.get(section, "extends").strip()


def test_every_env_builds_exactly_one_image_and_only_its_folders():
    ini = _ini()
    envs = [s.removeprefix("env:") for s in ini.sections() if s.startswith("env:")]
    images = [image for image in all_images() if image.envs]
    for env in envs:
        (image,) = [image for image in images if env in image.envs]
        want = {f"+<{folder.removeprefix('src/')}/>" for folder in image.src}
        want = {w for w in want if not w.startswith("+<include")}
        if "src/tflm" in image.src:  # an image with a model: the generated sources too
            want.add("+<generated/>")
        assert set(_option(ini, env, "build_src_filter").split()) == want, env
        libs = [ln.strip() for ln in _option(ini, env, "lib_deps").splitlines() if ln.strip()]
        assert set(closure([lib for lib in libs if lib in image.libs], FIRMWARE)) == set(
            image.libs
        ), env
    assert {env for image in images for env in image.envs} == set(envs)


@pytest.mark.parametrize("image", all_images(), ids=lambda image: image.name)
def test_every_include_resolves_inside_the_image(image):
    files = firmware_sources(image)
    headers = {Path(p).name for p in files if p.endswith(".h")} | {"generated/"}
    for path, data in files.items():
        if not path.endswith((".c", ".cpp", ".h")):
            continue
        for name in INCLUDE.findall(data.decode()):
            if EXTERNAL.match(name) or name.startswith("generated/"):
                continue
            assert Path(name).name in headers, f"{path} includes {name}, not in {image.name}"


@pytest.mark.parametrize("lib", sorted(p.name for p in (FIRMWARE / "lib").iterdir()))
def test_each_library_declares_the_libraries_its_includes_need(lib):
    own = closure([lib], FIRMWARE)
    reachable = {h.name for dep in own for h in (FIRMWARE / "lib" / dep / "src").glob("*.h")}
    needed = set()
    for src in (FIRMWARE / "lib" / lib / "src").glob("*.[ch]"):
        needed |= set(INCLUDE.findall(src.read_text()))
    assert needed <= reachable, f"{lib} includes {needed - reachable}: add to its library.json"
    # and declares nothing it does not use
    used = {dep for dep in library_deps(lib, FIRMWARE)
            if any((FIRMWARE / "lib" / dep / "src" / h).is_file() for h in needed)}
    assert used == set(library_deps(lib, FIRMWARE))


def test_every_folder_of_an_image_exists_and_firmware_has_no_orphan():
    linked: set[str] = set()
    for image in all_images():
        for folder in image.folders:
            assert (FIRMWARE / folder).is_dir(), f"images.toml names {folder}, which is missing"
        linked |= set(image.folders)
    for top in ("src", "lib"):
        for folder in (FIRMWARE / top).iterdir():
            rel = folder.relative_to(FIRMWARE).as_posix()
            assert rel in linked or rel == "src/generated", f"no image links {rel}"
    assert firmware_image("forwarder").libs == ("hil_forwarder", "hil_core", "hil_text")
