"""Which firmware files each image links: ``firmware/images.toml`` and the libraries' manifests.

An image is a set of source folders and libraries; a library brings the libraries its
``library.json`` depends on (PlatformIO resolves them the same way). The image hash, the
emulated board's build and the twin's host libraries all take their files from here, so an
image's identity covers what it links and nothing else.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError
from ..paths import firmware_dir

IMAGES_FILE = "images.toml"


@dataclass(frozen=True)
class FirmwareImage:
    name: str
    src: tuple[str, ...]  # folders of firmware/, e.g. "src/app", "include"
    libs: tuple[str, ...]  # every library it links, its dependencies included
    envs: tuple[str, ...] = ()  # the PlatformIO envs that build it (none: built by the harness)

    @property
    def folders(self) -> tuple[str, ...]:
        """Every folder of firmware/ whose files go into the image."""
        return (*self.src, *(f"lib/{lib}" for lib in self.libs))


def _table(root: Path) -> dict:
    path = root / IMAGES_FILE
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path} cannot be read ({exc}): restore it from tflm-hil") from exc


def library_deps(name: str, root: Path) -> tuple[str, ...]:
    """The libraries ``lib/NAME/library.json`` depends on."""
    manifest = root / "lib" / name / "library.json"
    try:
        deps = json.loads(manifest.read_text(encoding="utf-8")).get("dependencies", [])
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{manifest} cannot be read ({exc}): restore it from tflm-hil") from exc
    return tuple(d["name"] for d in deps)


def closure(libs: tuple[str, ...] | list[str], root: Path) -> tuple[str, ...]:
    """``libs`` and every library they depend on, each once, in the order first reached."""
    out: list[str] = []
    todo = list(libs)
    while todo:
        lib = todo.pop(0)
        if lib not in out:
            out.append(lib)
            todo += library_deps(lib, root)
    return tuple(out)


def _image(kind: str, name: str, entry: dict, root: Path) -> FirmwareImage:
    return FirmwareImage(
        name=name if kind == "image" else f"host.{name}",
        src=tuple(entry.get("src", ())),
        libs=closure(entry.get("libs", ()), root),
        envs=tuple(entry.get("envs", ())),
    )


def _entry(kind: str, name: str, root: Path | None) -> FirmwareImage:
    root = root or firmware_dir()
    entry = _table(root).get(kind, {}).get(name)
    if entry is None:
        raise ConfigError(f"{root / IMAGES_FILE} has no [{kind}.{name}]")
    return _image(kind, name, entry, root)


def firmware_image(name: str, root: Path | None = None) -> FirmwareImage:
    """The image ``name`` of images.toml (``hil``, ``forwarder``, ``emu``, ``emu_protocol``)."""
    return _entry("image", name, root)


def host_image(personality: str, root: Path | None = None) -> FirmwareImage:
    """What the twin compiles for the host to serve ``personality`` (``hil``, ``mlperf``, ...)."""
    return _entry("host", personality, root)


def all_images(root: Path | None = None) -> list[FirmwareImage]:
    root = root or firmware_dir()
    table = _table(root)
    return [
        _image(kind, name, entry, root)
        for kind in ("image", "host")
        for name, entry in table.get(kind, {}).items()
    ]


def image_of_env(env: str, root: Path | None = None) -> FirmwareImage:
    """The image a PlatformIO env builds."""
    for image in all_images(root):
        if env in image.envs:
            return image
    where = (root or firmware_dir()) / IMAGES_FILE
    raise ConfigError(f"no image of {where} names the PlatformIO env {env!r}: add it to its envs")
