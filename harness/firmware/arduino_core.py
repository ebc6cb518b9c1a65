"""The Arduino core's sources (ArduinoCore-mbed) at a version's tag, fetched into the user cache.

``tflm-hil firmware fetch-core [--arduino-core V] [--from URL_OR_GIT_DIR]`` checks the core
out from ``[hil] core_repo`` of ``firmware/platformio.ini`` (the upstream git that
PlatformIO's ``framework-arduino-mbed`` package is made from), or from ``--from``, at the tag
``V`` (default: the pin), into ``<cache>/cores/arduino-mbed/<V>/``, with the same machinery
as the TFLM library (harness/firmware/gitfetch.py). Only what compiling against the core
needs is checked out: ``cores/``, the variants' flag, include and header files, ``boards.txt``,
``platform.txt`` and the release templates that name the architecture. The variants'
prebuilt archives (``libmbed.a``, tens of MB) are left out, so nothing can be linked.

The core's ``cores/arduino/api`` is not in its repository: the release script
(extras/package_full.sh) clones ArduinoCore-API's default branch and links its ``api/`` there.
So the API is fetched from ``[hil] core_api_repo`` (or ``--api-from``) as of the core tag's
commit time, the newest commit the release could have cloned, and linked the same way.
"""

from __future__ import annotations

import shlex
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from ..errors import BuildError
from ..paths import cache_dir
from .gitfetch import commit_date, fetch_into_cache, fetched_urls, read_metadata, source_url
from .pins import ARDUINO_CORE_VAR, check_pins, read_platformio_ini, resolve_pins

SPARSE_PATHS = (
    "/cores/",
    "/variants/",
    "!/variants/*/libs/",  # the prebuilt mbed OS archives: only a link needs them
    "/boards.txt",
    "/platform.txt",
    "/extras/package_index.json.NewTag.template",  # 2.x-4.4: names the packages' architectures
    "/extras/json/",  # 4.5 on: one release template per architecture
    "/LICENSE",
)
API_SPARSE_PATHS = ("/api/", "/LICENSE")
API_REF = "HEAD"  # package_full.sh clones the default branch
API_LINK = Path("cores") / "arduino" / "api"
API_META = ".tflm-hil-core-api"


@dataclass(frozen=True)
class CoreCheckout:
    version: str
    commit: str
    url: str
    root: Path
    date: str = ""
    api_commit: str = ""  # the ArduinoCore-API commit linked as cores/arduino/api

    def variant_dir(self, variant: str) -> Path:
        return self.root / "variants" / variant

    @property
    def core_dir(self) -> Path:
        """``{build.core.path}`` of platform.txt: the core named ``build.core=arduino``."""
        return self.root / "cores" / "arduino"


def core_url(ini: Path | None = None) -> str:
    """The core's upstream repository: ``[hil] core_repo`` of platformio.ini."""
    return read_platformio_ini(ini).get("hil", "core_repo").strip()


def api_url(ini: Path | None = None) -> str:
    """ArduinoCore-API's repository: ``[hil] core_api_repo`` of platformio.ini."""
    return read_platformio_ini(ini).get("hil", "core_api_repo").strip()


def default_version() -> str:
    """The core version builds are pinned to now: $HIL_ARDUINO_CORE, else the default pin."""
    return resolve_pins().arduino_core


def cores_dir() -> Path:
    return cache_dir() / "cores" / "arduino-mbed"


def checkout_dir(version: str) -> Path:
    return cores_dir() / urllib.parse.quote(version, safe="")


def tag_of(version: str) -> str:
    """The git tag of a version pin: ArduinoCore-mbed tags releases by the bare version, and a
    PlatformIO requirement ``~4.5.0`` means that release here."""
    return version.lstrip("~")


def fetch_core_command(
    version: str, source: str | None = None, api_source: str | None = None
) -> str:
    cmd = "tflm-hil firmware fetch-core"
    if version != default_version():
        cmd += f" --arduino-core {shlex.quote(version)}"
    if source is not None:
        cmd += f" --from {shlex.quote(source)}"
    if api_source is not None:
        cmd += f" --api-from {shlex.quote(api_source)}"
    return cmd


def fetched_core_sources() -> list[str]:
    return fetched_urls(cores_dir())


def find_core(version: str) -> CoreCheckout | None:
    root = checkout_dir(version)
    meta = read_metadata(root)
    api = read_metadata(root / API_META)
    if meta is None or api is None or not (root / API_LINK).is_dir():
        return None
    return CoreCheckout(
        version, meta["commit"], meta["url"], root, meta.get("date", ""), api["commit"]
    )


def require_core(version: str) -> CoreCheckout:
    """The checkout of ``version``, or a BuildError that names the command to fetch it."""
    found = find_core(version)
    if found is None:
        raise BuildError(
            f"no source of ArduinoCore-mbed {version} in {cores_dir()}: fetch it first with "
            f"`{fetch_core_command(version)}` (add --from and --api-from URL_OR_GIT_DIR to fetch "
            "ArduinoCore-mbed and ArduinoCore-API from mirrors or local clones)"
        )
    return found


def fetch_core(
    version: str | None = None,
    source: str | None = None,
    api_source: str | None = None,
    emit: Callable[[str], None] = print,
) -> CoreCheckout:
    """Fetches the core at ``version``'s tag into the cache (again, if it was there), and the
    ArduinoCore-API it was released with into its ``cores/arduino/api``."""
    pins = resolve_pins()
    version = (
        check_pins(replace(pins, arduino_core=version)).arduino_core
        if version
        else (pins.arduino_core)
    )
    url = source_url(source, core_url())
    root = checkout_dir(version)
    fetch_into_cache(url, tag_of(version), root, SPARSE_PATHS, "ArduinoCore-mbed", emit)
    released = commit_date(root, "%cI")
    api_root = root / API_META
    fetch_into_cache(
        source_url(api_source, api_url()), API_REF, api_root, API_SPARSE_PATHS,
        "ArduinoCore-API", emit, before=released,
    )  # fmt: skip
    link = root / API_LINK
    if link.is_symlink():  # 1.x commits the developer's link (../../../ArduinoCore-API/api)
        link.unlink()
    link.symlink_to(api_root / "api", target_is_directory=True)
    found = find_core(version)
    assert found is not None
    return found


def describe(checkout: CoreCheckout) -> str:
    return (
        f"ArduinoCore-mbed {checkout.version} (commit {checkout.commit[:12]}, "
        f"{checkout.date or commit_date(checkout.root) or 'undated'}; ArduinoCore-API "
        f"{checkout.api_commit[:12]}) from {checkout.url} in "
        f"{checkout.root}; ${ARDUINO_CORE_VAR} or the pin selects it for "
        "`tflm-hil firmware check`"
    )
