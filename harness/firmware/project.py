"""A buildable project copy for one board and one model, and the hash that identifies its image.

The copy holds the sources of one image (``platformio.ini``, ``scripts/``, and the image's
source folders and libraries of ``firmware/images.toml``) and the generated files. The
**image hash** is the SHA-256 of everything that goes into the image: every file of the copy
(the image header taken with its own hash zeroed, since it cannot contain itself), the
version pins, the board id and the PlatformIO env. Two builds with the same hash are the same
firmware, so a device reporting that hash needs no flash; a file another image links (the
MLPerf module, the forwarder) is not in the copy, so editing it reflashes nothing else.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ..boards.catalog import BoardSpec
from ..errors import ConfigError
from ..paths import firmware_dir
from ..tflite.arena import measure_host_arena, plan_arena
from ..tflite.model import TfliteModel
from .codegen import GENERATED_DIR, IMAGE_HEADER, ZERO_HASH, ImageInputs, generated_files
from .images import FirmwareImage, firmware_image, image_of_env
from .opmap import resolver_methods
from .pins import Pins

MARKER = ".tflm-hil-project"
HASH_SCHEME = b"tflm-hil image v2"  # v2: an image's own folders, not all of firmware/
# What of firmware/ goes into every image besides its folders; build output, editor files not.
COMMON_ROOTS = ("platformio.ini", "scripts")
SKIP_DIRS = {".pio", ".vscode", "__pycache__", ".git"}
SKIP_SUFFIXES = (".pyc", ".swp", "~")
KEEP_ON_REGENERATE = {".pio", MARKER}

_HEX_RE = re.compile(r'(#define HIL_IMAGE_HASH_HEX )"[0-9a-f]{64}"')
_BYTES_RE = re.compile(r"(#define HIL_IMAGE_HASH_BYTES )\{[0-9a-fx, ]*\}")


@dataclass(frozen=True)
class Project:
    dir: Path
    board: BoardSpec
    env: str
    pins: Pins
    arena_size: int
    image_hash: str
    ops: tuple[str, ...]
    files: tuple[str, ...]


def firmware_sources(
    image: str | FirmwareImage = "hil", root: Path | None = None
) -> dict[str, bytes]:
    """Relative POSIX path -> content of every source file of one image of images.toml (not
    the generated ones)."""
    root = root or firmware_dir()
    if isinstance(image, str):
        image = firmware_image(image, root)
    out: dict[str, bytes] = {}
    for top in (*COMMON_ROOTS, *image.folders):
        path = root / top
        if path.is_file():
            out[top] = path.read_bytes()
            continue
        for dirpath, dirnames, filenames in os.walk(path):
            dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
            for name in filenames:
                rel = (Path(dirpath) / name).relative_to(root).as_posix()
                if name.endswith(SKIP_SUFFIXES) or rel.startswith(GENERATED_DIR + "/"):
                    continue
                out[rel] = (Path(dirpath) / name).read_bytes()
    if "platformio.ini" not in out:
        raise ConfigError(f"{root} is not the tflm-hil firmware project (no platformio.ini)")
    return out


def image_hash(files: Mapping[str, bytes], pins: Pins, board_id: str, env: str) -> str:
    """SHA-256 over the pins, the board, the env and every file (path and content hash)."""
    h = hashlib.sha256(HASH_SCHEME + b"\0")
    for key, value in [("board", board_id), ("env", env), *pins.items()]:
        h.update(f"{key}={value}\0".encode())
    for path in sorted(files):
        h.update(path.encode() + b"\0" + hashlib.sha256(files[path]).digest())
    return h.hexdigest()


def zero_image_hash(header: str) -> str:
    """The image header as it was hashed: its own hash replaced by zeros."""
    zero_bytes = "{" + ", ".join(["0x00"] * 32) + "}"
    text = _HEX_RE.sub(rf'\g<1>"{ZERO_HASH}"', header)
    return _BYTES_RE.sub(lambda m: m.group(1) + zero_bytes, text)


def plan_files(
    inputs: ImageInputs,
    pins: Pins,
    sources: Mapping[str, bytes] | None = None,
    env: str | None = None,
) -> tuple[str, dict[str, bytes]]:
    """(image hash, every file of the project copy with the hash filled in).

    ``env`` is the build the copy is for: the board's PlatformIO env unless given (the
    emulated board's builds name theirs). ``sources``: the image's, by default those of the
    image that env builds."""
    env = env or inputs.board.platformio.env
    sources = dict(firmware_sources(image_of_env(env)) if sources is None else sources)
    files = {**sources, **generated_files(inputs, ZERO_HASH)}
    ident = image_hash(files, pins, inputs.board.id, env)
    return ident, {**sources, **generated_files(inputs, ident)}


def recompute_image_hash(project_dir: Path, pins: Pins, board_id: str, env: str) -> str:
    """The image hash of a written project copy, from its files (to check a copy is intact)."""
    files: dict[str, bytes] = {}
    for dirpath, dirnames, filenames in os.walk(project_dir):
        dirnames[:] = [d for d in dirnames if d not in SKIP_DIRS]
        for name in filenames:
            rel = (Path(dirpath) / name).relative_to(project_dir).as_posix()
            if rel != MARKER:
                files[rel] = (Path(dirpath) / name).read_bytes()
    if IMAGE_HEADER in files:
        files[IMAGE_HEADER] = zero_image_hash(files[IMAGE_HEADER].decode()).encode()
    return image_hash(files, pins, board_id, env)


def choose_arena(model: TfliteModel, ram_bytes: int, requested: int | None) -> int:
    """--arena if given, else the host runtime's figure plus a margin.

    A model the host runtime cannot run gets half the board's RAM, so that the device reports
    TFLM's own reason in its handshake rather than failing at build time.
    """
    if requested is not None:
        if requested <= 0:
            raise ConfigError(f"--arena must be a positive number of bytes, not {requested}")
        return requested
    host_used = measure_host_arena(model)
    return plan_arena(host_used) if host_used else ram_bytes // 2


def _prepare_dir(out: Path) -> None:
    """Empties a previous copy (keeping its build cache); refuses a directory it did not make."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{out} exists and is not a directory: choose another --out")
    if out.is_dir() and any(out.iterdir()):
        if not (out / MARKER).is_file():
            raise ConfigError(
                f"{out} is not empty and was not made by tflm-hil: choose a new or empty directory"
            )
        for child in out.iterdir():
            if child.name in KEEP_ON_REGENERATE:
                continue
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()
    out.mkdir(parents=True, exist_ok=True)


def write_files(out: Path, files: Mapping[str, bytes]) -> None:
    _prepare_dir(out)
    (out / MARKER).write_text("a tflm-hil firmware project copy: regenerated on every build\n")
    for rel, data in files.items():
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def generate_project(
    model: TfliteModel,
    board: BoardSpec,
    out: Path,
    arena_size: int,
    pins: Pins,
    env: str | None = None,
    mlperf_model: str | None = None,
) -> Project:
    """Writes the project copy for this model and board into ``out`` (the image ``env``
    builds: by default the board's test firmware); returns what it is. ``mlperf_model``: the
    benchmark the MLPerf DUT firmware answers as, for a model that is not a published one."""
    env = env or board.platformio.env
    if mlperf_model and "hil_mlperf" not in image_of_env(env).libs:
        raise ConfigError(
            f"--mlperf-model is for the MLPerf Tiny DUT firmware, and env {env!r} builds "
            f"image {image_of_env(env).name!r}: add --env nano33ble_mlperf"
        )
    inputs = ImageInputs(board=board, model=model, arena_size=arena_size, mlperf_model=mlperf_model)
    ident, files = plan_files(inputs, pins, env=env)
    write_files(out, files)
    return Project(
        dir=out,
        board=board,
        env=env,
        pins=pins,
        arena_size=inputs.arena_size,
        image_hash=ident,
        ops=tuple(name for name, _ in resolver_methods(model)),
        files=tuple(sorted(files)),
    )
