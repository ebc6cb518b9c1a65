"""Generated firmware sources: the op resolver holds exactly the model's ops, the model array and
the image header are right, and the image hash covers every input and nothing else."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import tomllib
from dataclasses import replace
from pathlib import Path

import pytest

from harness.boards.catalog import load_catalog
from harness.cli import main as cli_main
from harness.errors import ConfigError
from harness.firmware import codegen
from harness.firmware.codegen import ImageInputs, generated_files
from harness.firmware.opmap import load_opmap, resolver_methods
from harness.firmware.pins import Pins
from harness.firmware.project import (
    MARKER,
    firmware_sources,
    generate_project,
    plan_files,
    recompute_image_hash,
    write_files,
)
from harness.paths import PACKAGE_DIR

from .tiny_tflite import tiny_model

NANO33 = load_catalog()["nano33"]
PINS = Pins(tflm_ref="7948b85e020470a30a83bf00e10fc43b486bfcba", arduino_core="4.5.0")
ADD_CALL = re.compile(r"g_resolver\.(Add\w+)\(\)")
# The common int8 operators a Keras-converted model uses: the map must know each of them.
COMMON_INT8_OPS = [
    "CONV_2D",
    "DEPTHWISE_CONV_2D",
    "FULLY_CONNECTED",
    "MAX_POOL_2D",
    "AVERAGE_POOL_2D",
    "SOFTMAX",
    "RESHAPE",
    "QUANTIZE",
    "DEQUANTIZE",
    "ADD",
    "MUL",
    "LOGISTIC",
    "TANH",
    "RELU",
    "RELU6",
    "CONCATENATION",
    "MEAN",
    "PAD",
    "STRIDED_SLICE",
    "TRANSPOSE",
    "SPACE_TO_BATCH_ND",
    "BATCH_TO_SPACE_ND",
    "RESIZE_BILINEAR",
    "SHAPE",
    "PACK",
    "UNPACK",
    "SPLIT",
    "HARD_SWISH",
    "LEAKY_RELU",
    "EXPAND_DIMS",
    "SQUEEZE",
    "SUB",
    "TRANSPOSE_CONV",
    "PRELU",
]


def _files(model, arena=8192, board=NANO33):
    return generated_files(ImageInputs(board=board, model=model, arena_size=arena))


def test_resolver_holds_exactly_the_models_distinct_ops():
    model = tiny_model(["CONV_2D", "RELU", "CONV_2D", "MAX_POOL_2D", "RELU", "SOFTMAX"])
    files = _files(model)
    source = files[codegen.OPS_SOURCE].decode()
    header = files[codegen.OPS_HEADER].decode()
    assert ADD_CALL.findall(source) == ["AddConv2D", "AddRelu", "AddMaxPool2D", "AddSoftmax"]
    assert "#define HIL_OP_COUNT 4\n" in header
    assert "MicroMutableOpResolver<HIL_OP_COUNT>" in source
    assert 'return "MAX_POOL_2D";' in source  # a failed registration names its operator


def test_custom_op_is_registered_by_its_code():
    model = tiny_model(["custom:TFLite_Detection_PostProcess", "RESHAPE"])
    assert resolver_methods(model) == [
        ("TFLite_Detection_PostProcess", "AddDetectionPostprocess"),
        ("RESHAPE", "AddReshape"),
    ]


@pytest.mark.parametrize("op", ["custom:MyFancyOp", "HASHTABLE_LOOKUP"])
def test_an_op_missing_from_the_map_is_a_config_error_naming_it(op):
    model = tiny_model(["CONV_2D", op], source="m.tflite")
    name = op.removeprefix("custom:")
    with pytest.raises(ConfigError, match=rf"m\.tflite uses {name},.*tflm_ops\.toml"):
        _files(model)


def test_the_map_covers_the_common_int8_ops_with_plausible_methods():
    opmap = load_opmap()
    missing = [op for op in COMMON_INT8_OPS if op not in opmap.builtin]
    assert missing == []
    for name, method in {**opmap.builtin, **opmap.custom}.items():
        assert re.fullmatch(r"Add[A-Z][A-Za-z0-9]*", method), (name, method)
    # one method per operator: two ops sharing a method would register one kernel twice
    assert len(set(opmap.builtin.values())) == len(opmap.builtin)
    raw = tomllib.loads((PACKAGE_DIR / "data" / "tflm_ops.toml").read_text())
    assert set(raw) == {"builtin", "custom"}


def test_model_array_holds_the_model_bytes_aligned_and_const():
    model = tiny_model(["RELU"], seed=7)
    text = _files(model)[codegen.MODEL_SOURCE].decode()
    assert "alignas(16) const unsigned char hil_model_data[]" in text
    body = text[text.index("{") + 1 : text.index("};")]
    assert bytes(int(x, 16) for x in re.findall(r"0x([0-9a-f]{2})", body)) == model.data
    assert f"hil_model_len = {len(model.data)}u;" in text


def test_image_header_describes_board_arena_model_and_image():
    model = tiny_model(["RELU"])
    inputs = ImageInputs(board=NANO33, model=model, arena_size=10_001)
    assert inputs.arena_size == 10_016  # rounded up to TFLM's 16-byte alignment
    ident, files = plan_files(inputs, PINS)
    header = files[codegen.IMAGE_HEADER].decode()
    assert '#define HIL_BOARD_ID "nano33"' in header
    assert "#define HIL_ARENA_SIZE 10016u" in header
    # the whole receive buffer, staging included, and the staging part on its own
    window = NANO33.link.rx_window + NANO33.link.staging_bytes
    assert f"#define HIL_RX_WINDOW {window}u" in header
    assert f"#define HIL_STAGING_BYTES {NANO33.link.staging_bytes}u" in header
    assert f'#define HIL_MODEL_SHA256 "{model.sha256}"' in header
    assert f'#define HIL_IMAGE_HASH_HEX "{ident}"' in header

    def initializer(macro: str) -> bytes:
        m = re.search(rf"#define {macro} \{{([^}}]*)\}}", header)
        assert m
        return bytes(int(x, 16) for x in m.group(1).split(", "))

    assert initializer("HIL_MODEL_HASH_BYTES") == bytes.fromhex(model.sha256)
    assert initializer("HIL_IMAGE_HASH_BYTES") == bytes.fromhex(ident)


def test_generated_model_array_compiles_and_matches_the_model(tmp_path):
    """The generated C++ builds warning-free and the linked array is the model, 16-aligned."""
    cxx = shutil.which("c++") or shutil.which("g++")
    assert cxx, "a host C++ compiler is required (Debian: g++)"
    model = tiny_model(["CONV_2D", "SOFTMAX"], seed=3)
    for rel, data in _files(model).items():
        (tmp_path / Path(rel).name).write_bytes(data)
    (tmp_path / "check.cpp").write_text(
        '#include <cstdint>\n#include <cstdio>\n#include "hil_image.h"\n'
        "int main() {\n"
        "  static const unsigned char hash[32] = HIL_MODEL_HASH_BYTES;\n"
        '  std::printf("%u %u %u\\n", hil_model_len,\n'
        "              unsigned(reinterpret_cast<std::uintptr_t>(hil_model_data) % 16), hash[0]);\n"
        "  std::fwrite(hil_model_data, 1, hil_model_len, stderr);\n"
        "}\n"
    )
    exe = tmp_path / "check"
    subprocess.run(
        [
            cxx,
            "-std=c++14",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-o",
            str(exe),
            str(tmp_path / "check.cpp"),
            str(tmp_path / "hil_model_data.cpp"),
        ],
        check=True,
        capture_output=True,
    )
    run = subprocess.run([str(exe)], check=True, capture_output=True)
    length, misalign, first = map(int, run.stdout.split())
    assert (length, misalign, first) == (len(model.data), 0, bytes.fromhex(model.sha256)[0])
    assert run.stderr == model.data


# ---- the image hash --------------------------------------------------------------------------


def _hash(model=None, *, arena=8192, pins=PINS, board=NANO33, sources=None):
    model = model or tiny_model(["CONV_2D", "SOFTMAX"])
    inputs = ImageInputs(board=board, model=model, arena_size=arena)
    return plan_files(inputs, pins, sources)[0]


def test_image_hash_is_stable_and_ignores_where_the_model_lies():
    a = tiny_model(["CONV_2D"], source="/a/model.tflite")
    b = tiny_model(["CONV_2D"], source="/elsewhere/renamed.tflite")
    assert _hash(a) == _hash(a) == _hash(b)


def test_image_hash_changes_with_every_input():
    sources = firmware_sources()
    base = _hash(sources=sources)
    main = "src/app/main.cpp"
    edited = {**sources, main: sources[main] + b"\n// a change\n"}
    added = {**sources, "lib/hil_core/src/extra.c": b"int x;\n"}
    variants = {
        "model": _hash(tiny_model(["CONV_2D", "SOFTMAX"], seed=1), sources=sources),
        "arena": _hash(arena=8192 + 16, sources=sources),
        "tflm pin": _hash(pins=replace(PINS, tflm_ref="v2.0"), sources=sources),
        "core pin": _hash(pins=replace(PINS, arduino_core="4.4.1"), sources=sources),
        "board": _hash(board=load_catalog()["nano33rev2"], sources=sources),
        "firmware source": _hash(sources=edited),
        "new source file": _hash(sources=added),
    }
    assert all(v != base for v in variants.values()), variants
    assert len(set(variants.values())) == len(variants)


def test_firmware_sources_are_the_project_not_its_build_output(tmp_path):
    root = tmp_path / "fw"
    shutil.copytree(
        PACKAGE_DIR.parent / "firmware", root, ignore=shutil.ignore_patterns(".pio", "generated")
    )
    (root / ".pio" / "build").mkdir(parents=True)
    (root / ".pio" / "build" / "junk.o").write_bytes(b"x")
    (root / "src" / "generated").mkdir()
    (root / "src" / "generated" / "hil_image.h").write_text("stale")
    (root / "scripts" / "__pycache__").mkdir()
    (root / "scripts" / "__pycache__" / "hil_pre.cpython-311.pyc").write_bytes(b"x")
    files = firmware_sources("hil", root)
    assert {
        "platformio.ini",
        "include/board_support.h",
        "src/app/main.cpp",
        "src/tflm/tflm_backend.cpp",
        "src/arduino/board_support.cpp",
        "src/tflm/hil_log.cpp",
        "scripts/hil_pre.py",
        "lib/hil_core/library.json",
        "lib/hil_core/src/hil_core.c",
        "lib/hil_core/src/hil_proto.h",
    } <= set(files)
    # what the test firmware does not link is not in its copy, nor in its hash
    assert not [f for f in files if f.startswith(("src/emu/", "src/forwarder/", "lib/hil_ml"))]
    assert not [f for f in files if ".pio" in f or "generated" in f or f.endswith(".pyc")]


# ---- the project copy ------------------------------------------------------------------------


def test_generated_project_is_complete_and_its_hash_recomputes(tmp_path):
    model = tiny_model(["DEPTHWISE_CONV_2D", "FULLY_CONNECTED"])
    project = generate_project(model, NANO33, tmp_path / "p", 4096, PINS)
    written = sorted(
        p.relative_to(project.dir).as_posix() for p in project.dir.rglob("*") if p.is_file()
    )
    assert written == sorted([*project.files, MARKER])
    assert set(firmware_sources()) <= set(project.files)
    assert project.ops == ("DEPTHWISE_CONV_2D", "FULLY_CONNECTED")
    assert recompute_image_hash(project.dir, PINS, "nano33", "nano33ble") == project.image_hash
    # any edit of the copy shows
    main = project.dir / "src" / "app" / "main.cpp"
    main.write_bytes(main.read_bytes() + b" ")
    assert recompute_image_hash(project.dir, PINS, "nano33", "nano33ble") != project.image_hash


def test_regenerating_keeps_the_build_cache_and_drops_stale_files(tmp_path):
    out = tmp_path / "p"
    generate_project(tiny_model(["RELU"]), NANO33, out, 4096, PINS)
    (out / ".pio" / "build").mkdir(parents=True)
    (out / ".pio" / "build" / "keep.o").write_bytes(b"o")
    (out / "src" / "stale.cpp").write_text("int stale;")
    generate_project(tiny_model(["TANH"]), NANO33, out, 4096, PINS)
    assert (out / ".pio" / "build" / "keep.o").is_file()
    assert not (out / "src" / "stale.cpp").exists()
    assert "AddTanh" in (out / codegen.OPS_SOURCE).read_text()


def test_refuses_to_empty_a_directory_it_did_not_make(tmp_path):
    (tmp_path / "precious.txt").write_text("keep me")
    with pytest.raises(ConfigError, match="not empty and was not made by tflm-hil"):
        write_files(tmp_path, {"platformio.ini": b""})
    assert (tmp_path / "precious.txt").read_text() == "keep me"


def test_firmware_generate_command_writes_a_buildable_copy(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HIL_TFLM_REF", "v9.9.9")
    monkeypatch.delenv("HIL_ARDUINO_CORE", raising=False)
    model_path = tmp_path / "m.tflite"
    model_path.write_bytes(tiny_model(["CONV_2D", "SOFTMAX"]).data)
    out = tmp_path / "proj"
    rc = cli_main(
        [
            "firmware",
            "generate",
            "--model",
            str(model_path),
            "--board",
            "nano33",
            "--out",
            str(out),
            "--arena",
            "6000",
            "--json",
        ]
    )
    assert rc == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["env"] == "nano33ble" and summary["arena_size"] == 6000
    assert summary["ops"] == ["CONV_2D", "SOFTMAX"]
    assert summary["pins"] == {"tflm_ref": "v9.9.9", "arduino_core": "4.5.0"}
    assert "HIL_TFLM_REF=v9.9.9 HIL_ARDUINO_CORE=4.5.0 pio run -e nano33ble -d " in summary["build"]
    header = (out / codegen.IMAGE_HEADER).read_text()
    assert summary["image_hash"] in header
    pins = Pins("v9.9.9", "4.5.0")
    assert recompute_image_hash(out, pins, "nano33", "nano33ble") == summary["image_hash"]
    assert hashlib.sha256(model_path.read_bytes()).hexdigest() in header


def test_firmware_generate_refuses_a_simulated_board(tmp_path, capsys):
    model_path = tmp_path / "m.tflite"
    model_path.write_bytes(tiny_model(["RELU"]).data)
    rc = cli_main(
        [
            "firmware",
            "generate",
            "--model",
            str(model_path),
            "--board",
            "sim:nano33",
            "--out",
            str(tmp_path / "o"),
            "--arena",
            "4096",
        ]
    )
    assert rc == 3
    assert "simulated twin" in capsys.readouterr().err
