"""Runs the firmware's TFLM backend on QEMU, against a local checkout of the Arduino TFLM library.

Without PlatformIO's registry the Arduino firmware cannot be built, but all of it except the
Arduino glue (Serial, board_support.cpp) can: this compiles the TFLM library (``--tflm-src``,
the ``src/`` folder of tflite-micro-arduino-examples), the firmware's ``tflm_backend.cpp`` and
``hil_log.cpp``, the generated sources of a project copy and the device core for Cortex-M4F,
runs them on QEMU ``mps2-an386``, streams vectors through the protocol and compares the
outputs with the TFLM host runtime. It prints JSON and exits 0 when every output is bit-exact.

    python firmware/tools/qemu_check/check.py --tflm-src ~/tflite-micro-arduino-examples/src \\
        --model fixtures/digits/digits_int8.tflite [--vectors 40] [--arena N] [--drop-op OP]

``--drop-op`` removes one operator from the generated resolver and ``--arena`` can be made too
small: both exercise the init error the handshake reports. Needs arm-none-eabi-gcc (with
newlib) and qemu-system-arm. Nothing of the TFLM library is copied into this repository.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import hashlib
import json
import os
import re
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from harness.boards.catalog import load_catalog
from harness.firmware.pins import resolve_pins
from harness.firmware.project import choose_arena, generate_project
from harness.model.tflite_info import TfliteModel
from harness.paths import cache_dir
from harness.protocol.constants import Msg
from harness.protocol.framing import Frame, FrameDecoder, encode_frame
from harness.protocol.messages import parse_error, parse_hello, parse_result

HERE = Path(__file__).resolve().parent
ARCH = [
    "-mcpu=cortex-m4",
    "-mthumb",
    "-mfloat-abi=hard",
    "-mfpu=fpv4-sp-d16",
    "-Os",
    "-ffunction-sections",
    "-fdata-sections",
]
# ARDUINO selects the library's Arduino code paths (CMSIS-NN kernel registrations);
# ARDUINO_EXCLUDE_CODE is what platformio.ini passes too.
DEFINES = ["-DARDUINO=10813", "-DARDUINO_EXCLUDE_CODE"]
CXX = [
    "arm-none-eabi-g++",
    "-std=gnu++14",
    "-fno-rtti",
    "-fno-exceptions",
    "-fno-threadsafe-statics",
]
CC = ["arm-none-eabi-gcc", "-std=gnu11"]
SKIP = ("peripherals/", "test_over_serial/")


def compile_one(src: Path, obj: Path, includes: list[str], warnings: list[str]) -> str:
    tool = CXX if src.suffix in (".cc", ".cpp") else CC
    cmd = [*tool, *ARCH, *DEFINES, *includes, *warnings, "-c", str(src), "-o", str(obj)]
    run = subprocess.run(cmd, capture_output=True, text=True)
    if run.returncode != 0:
        raise SystemExit(f"compiling {src} failed:\n{run.stderr}")
    return run.stderr


def library_objects(tflm_src: Path) -> list[Path]:
    """The TFLM library for Cortex-M4F, compiled once per checkout (cached)."""
    sources = sorted(
        p
        for p in tflm_src.rglob("*")
        if p.suffix in (".c", ".cc", ".cpp")
        and not p.relative_to(tflm_src).as_posix().startswith(SKIP)
    )
    key = hashlib.sha256()
    for p in sources:
        key.update(f"{p}:{p.stat().st_size}:{p.stat().st_mtime_ns}\n".encode())
    out = cache_dir() / "qemu_check" / key.hexdigest()[:16]
    out.mkdir(parents=True, exist_ok=True)
    jobs = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        for src in sources:
            obj = out / (src.relative_to(tflm_src).as_posix().replace("/", "_") + ".o")
            if not obj.is_file():
                jobs[pool.submit(compile_one, src, obj, [f"-I{tflm_src}"], ["-w"])] = src
        for job in concurrent.futures.as_completed(jobs):
            job.result()
    return sorted(out.glob("*.o"))


def requests(model: TfliteModel, vectors: np.ndarray) -> bytes:
    req = encode_frame(Msg.HELLO, 1, struct.pack("<I", 0xC0FFEE))
    for i, x in enumerate(vectors):
        head = struct.pack("<BBI", 1, i & 0xFF, 0)  # invoke when complete, vector i, offset 0
        req += encode_frame(Msg.SET_INPUT, (2 + i) & 0xFF, head + x.tobytes())
    return req


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tflm-src", type=Path, required=True)
    ap.add_argument("--model", type=Path, required=True)
    ap.add_argument("--vectors", type=int, default=20)
    ap.add_argument("--arena", type=int)
    ap.add_argument("--drop-op")
    args = ap.parse_args(argv)

    model = TfliteModel.load(args.model)
    board = load_catalog()["nano33"]
    work = Path(tempfile.mkdtemp(prefix="qemu-check-"))
    arena = choose_arena(model, board.ram_bytes, args.arena)
    project = generate_project(model, board, work / "project", arena, resolve_pins())
    if args.drop_op:
        ops = project.dir / "src" / "generated" / "hil_ops.cpp"
        kept = [
            ln
            for ln in ops.read_text().splitlines(keepends=True)
            if f'return "{args.drop_op}";' not in ln
        ]
        ops.write_text("".join(kept))
    rng = np.random.default_rng(5)
    shape, dtype = model.inputs[0].shape, model.inputs[0].dtype
    info = np.iinfo(dtype)
    vectors = rng.integers(info.min, info.max + 1, size=(args.vectors, *shape), dtype=dtype)
    req = requests(model, vectors)
    (work / "requests.h").write_text(
        "static const uint8_t kRequests[] = {" + ",".join(map(str, req)) + "};\n"
        f"static const uint32_t kRequestsLen = {len(req)}u;\n"
    )

    includes = [
        f"-I{project.dir / 'src'}",
        f"-I{project.dir / 'lib/hil_core/src'}",
        f"-I{args.tflm_src}",
        f"-I{work}",
    ]
    ours = [
        project.dir / "src/tflm_backend.cpp",
        project.dir / "src/hil_log.cpp",
        *sorted((project.dir / "src/generated").glob("*.cpp")),
        HERE / "qemu_main.cpp",
        *sorted((project.dir / "lib/hil_core/src").glob("*.c")),
        HERE / "startup.c",
    ]
    objs, warnings = [], {}
    for src in ours:
        obj = work / (src.name + ".o")
        text = compile_one(src, obj, includes, ["-Wall", "-Wextra"])
        mine = [ln for ln in text.splitlines() if "warning" in ln and str(args.tflm_src) not in ln]
        if mine:
            warnings[src.name] = mine
        objs.append(str(obj))
    elf = work / "check.elf"
    link = [
        "arm-none-eabi-g++",
        *ARCH,
        "-nostartfiles",
        "--specs=nano.specs",
        "--specs=rdimon.specs",
        "-T",
        str(HERE / "link.ld"),
        "-Wl,--gc-sections",
        "-o",
        str(elf),
        *objs,
        "-Wl,--start-group",
        *map(str, library_objects(args.tflm_src)),
        "-lstdc++_nano",
        "-lm",
        "-Wl,--end-group",
    ]
    run = subprocess.run(link, capture_output=True, text=True)
    if run.returncode != 0:
        raise SystemExit(f"link failed:\n{run.stderr[-4000:]}")
    qemu = subprocess.run(
        [
            "qemu-system-arm",
            "-M",
            "mps2-an386",
            "-nographic",
            "-monitor",
            "none",
            "-serial",
            "none",
            "-semihosting-config",
            "enable=on,target=native",
            "-kernel",
            str(elf),
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    found = re.search(r"^OUT ([0-9a-f]*)$", qemu.stdout, re.M)
    if qemu.returncode != 0 or not found:
        raise SystemExit(f"QEMU exited {qemu.returncode}:\n{qemu.stdout[-2000:]}{qemu.stderr}")
    frames = [f for f in FrameDecoder().feed(bytes.fromhex(found.group(1))) if isinstance(f, Frame)]
    hello = parse_hello(next(f for f in frames if f.type == Msg.HELLO_R).payload)
    results = [parse_result(f.payload) for f in frames if f.type == Msg.RESULT]
    errors = [parse_error(f.payload)[1:] for f in frames if f.type == Msg.ERROR]

    from tflite_micro.python.tflite_micro import runtime

    host = runtime.Interpreter.from_bytes(model.data)
    diffs = []
    for x, res in zip(vectors, results, strict=False):
        host.set_input(x, 0)
        host.invoke()
        ref = host.get_output(0)
        dev = np.frombuffer(res.output[: ref.nbytes], dtype=ref.dtype).reshape(ref.shape)
        diffs.append(int(np.abs(ref.astype(np.int64) - dev.astype(np.int64)).max()))
    report = {
        "model": str(args.model),
        "image_hash_ok": hello.image_hash == project.image_hash,
        "model_hash_ok": hello.model_hash == model.sha256,
        "arena_size": hello.arena_size,
        "arena_used": hello.arena_used,
        "model_ready": hello.model_ready,
        "model_error": hello.model_error,
        "requests": len(vectors),
        "results": len(results),
        "errors": errors[:3],
        "bit_exact": sum(d == 0 for d in diffs),
        "max_abs_diff": max(diffs, default=0),
        "warnings_in_firmware_sources": warnings,
    }
    print(json.dumps(report, indent=2))
    ok = results and report["bit_exact"] == len(vectors) and not warnings
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
