"""The protocol-only image: the device core behind the board's own glue (src/app/main.cpp) and
a built-in test backend (firmware/src/test_backend/test_backend.c) instead of TFLM.

It builds from Debian's packages alone (no fetched library), in seconds, so the protocol's
tests run against real ARM machine code on QEMU on any machine, CI included. The functions
below mirror the test backend: what it answers, and how many instructions its invoke adds.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
from filelock import FileLock

from .. import __version__
from ..boards.catalog import BoardSpec
from ..firmware.codegen import IMAGE_HEADER, image_header
from ..firmware.images import firmware_image
from ..firmware.pins import resolve_pins
from ..firmware.project import firmware_sources, write_files
from ..paths import cache_dir
from .build import build_elf, emu_flags, image_sources, include_dirs
from .qemu import QemuProcess, start_qemu
from .toolchain import Toolchain, board_flags

TEST_BACKEND = "src/test_backend/test_backend.c"
INPUT_SHAPE = (1, 64)  # int8, scale 1/128
OUTPUT_SHAPE = (1, 10)  # int8, scale 1
SPIN_PER_UNIT = 1000  # loop iterations per unit of x[0], two instructions each
CACHE_SCHEME = "tflm-hil protocol image v1"


def expected_output(x: np.ndarray) -> np.ndarray:
    """The test backend's answer: out[j] = j + sum of x[i] over i = j (mod 10), as int8."""
    flat = np.asarray(x, dtype=np.int8).reshape(-1).astype(np.int64)
    n = OUTPUT_SHAPE[1]
    sums = [j + int(flat[j::n].sum()) for j in range(n)]
    return np.array(sums, dtype=np.int64).astype(np.uint8).view(np.int8).reshape(OUTPUT_SHAPE)


def spin_instructions(x: np.ndarray) -> int:
    """Instructions the invoke spends in its loop for input ``x``."""
    return 2 * SPIN_PER_UNIT * int(np.asarray(x, dtype=np.int8).reshape(-1)[0].astype(np.uint8))


def build_protocol_image(spec: BoardSpec, log_dir: Path | None = None) -> Path:
    """The image's ELF for ``spec``'s emulation target, built once per content hash."""
    assert spec.emulation is not None, f"{spec.id} has no emulation target"
    toolchain = Toolchain.find()
    flags = emu_flags(board_flags(spec.emulation, resolve_pins()), spec.emulation.machine)
    flags = flags.with_defines('HIL_TFLM_VERSION="none (protocol-only image)"')
    image = firmware_image("emu_protocol")
    folders = tuple(f"{folder}/" for folder in image.folders)
    files = {p: data for p, data in firmware_sources(image).items() if p.startswith(folders)}
    h = hashlib.sha256(f"{CACHE_SCHEME}\0{spec.id}\0{toolchain.version}\0".encode())
    h.update(flags.digest().encode())
    for path in sorted(files):
        h.update(path.encode() + b"\0" + hashlib.sha256(files[path]).digest())
    ident = h.hexdigest()
    model_hash = hashlib.sha256(files[TEST_BACKEND]).hexdigest()
    fw = f"tflm-hil {__version__} protocol-only image"
    files[IMAGE_HEADER] = image_header(spec, model_hash, 0, 0, fw, ident).encode()
    out = cache_dir() / "emu" / "protocol" / ident[:16]
    elf = out / "firmware.elf"
    out.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(f"{out}.lock"):
        if not elf.is_file():
            write_files(out, files)
            log = (log_dir or cache_dir() / "emu" / "logs") / "emu-build-protocol.log"
            build_elf(out, image_sources(image, out), flags, toolchain, include_dirs(image, out),
                      [], log)  # fmt: skip
    return elf


def start_protocol_device(spec: BoardSpec, log_path: Path) -> QemuProcess:
    """The protocol-only image running on QEMU; stop() it (or use it as a context manager)."""
    assert spec.emulation is not None
    return start_qemu(build_protocol_image(spec), spec.emulation.machine, log_path)
