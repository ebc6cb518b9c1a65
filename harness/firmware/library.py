"""The TFLM Arduino library's sources, fetched at run time into the user cache, as PlatformIO does.

``tflm-hil firmware fetch [--ref REF] [--from URL_OR_GIT_DIR]`` clones the library from the
``lib_deps`` repository of ``firmware/platformio.ini`` (``[hil] tflm_repo``), or from
``--from``, at the ref (default: the pin), into ``<cache>/libraries/tflm/<ref>/``. Only what a
build needs is checked out (``src/`` and the licence: a sparse checkout of a blob-less clone),
so a mirror that lacks blobs outside ``src/`` serves as well as GitHub. Nothing fetched ever
enters the repository; builds find a checkout by the ref they are pinned to.
"""

from __future__ import annotations

import shlex
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from ..errors import BuildError
from ..paths import cache_dir
from .gitfetch import (
    METADATA,
    commit_date,
    fetch_into_cache,
    fetched_urls,
    read_metadata,
    source_url,
)
from .pins import TFLM_REF_VAR, check_pins, read_platformio_ini, resolve_pins

SPARSE_PATHS = ("/src/", "/LICENSE", "/library.properties")
__all__ = ["METADATA", "LibraryCheckout", "fetch_library", "find_library", "require_library"]


@dataclass(frozen=True)
class LibraryCheckout:
    ref: str
    commit: str
    url: str
    root: Path
    date: str = ""  # the commit's author date, YYYY-MM-DD (git log -1 --format=%as)

    @property
    def src(self) -> Path:
        return self.root / "src"


def library_url(ini: Path | None = None) -> str:
    """The library's repository: ``[hil] tflm_repo`` of platformio.ini (what lib_deps clones)."""
    return read_platformio_ini(ini).get("hil", "tflm_repo").strip()


def default_ref() -> str:
    """The ref builds are pinned to now: $HIL_TFLM_REF, else the default pin."""
    return resolve_pins().tflm_ref


def libraries_dir() -> Path:
    return cache_dir() / "libraries" / "tflm"


def checkout_dir(ref: str) -> Path:
    return libraries_dir() / urllib.parse.quote(ref, safe="")


def fetch_command(ref: str, source: str | None = None, *, explicit: bool = False) -> str:
    """The command that fetches ``ref``, as a user types it: ``--ref`` unless the command's own
    default ($HIL_TFLM_REF, else the pin) is that ref and ``explicit`` is False."""
    cmd = "tflm-hil firmware fetch"
    if explicit or ref != default_ref():
        cmd += f" --ref {shlex.quote(ref)}"
    if source is not None:
        cmd += f" --from {shlex.quote(source)}"
    return cmd


def fetched_sources() -> list[str]:
    """Where the fetched checkouts came from (their metadata's url), most used first."""
    return fetched_urls(libraries_dir())


def find_library(ref: str) -> LibraryCheckout | None:
    root = checkout_dir(ref)
    meta = read_metadata(root)
    if meta is None or not (root / "src").is_dir():
        return None
    date = meta.get("date") or commit_date(root)  # checkouts fetched before dates were kept
    return LibraryCheckout(ref, meta["commit"], meta["url"], root, date)


def require_library(ref: str) -> LibraryCheckout:
    """The checkout for ``ref``, or a BuildError that names the command to fetch it."""
    found = find_library(ref)
    if found is None:
        raise BuildError(
            f"no source of the TFLM library at {ref} in {libraries_dir()}: fetch it "
            f"first with `{fetch_command(ref)}` (add --from URL_OR_GIT_DIR to fetch from a "
            "mirror or a local clone)"
        )
    return found


def fetch_library(
    ref: str | None = None, source: str | None = None, emit: Callable[[str], None] = print
) -> LibraryCheckout:
    """Fetches the library at ``ref`` into the cache (again, if it was there); returns it."""
    ref = check_pins(replace(resolve_pins(), tflm_ref=ref)).tflm_ref if ref else default_ref()
    url = source_url(source, library_url())
    fetch_into_cache(url, ref, checkout_dir(ref), SPARSE_PATHS, "the TFLM library", emit)
    checkout = find_library(ref)
    assert checkout is not None
    return checkout


def describe(checkout: LibraryCheckout) -> str:
    files = sum(1 for p in checkout.src.rglob("*") if p.is_file())
    return (
        f"TFLM library {checkout.ref} (commit {checkout.commit[:12]}, "
        f"{checkout.date or 'undated'}) from {checkout.url}: {files} files in {checkout.root}; "
        f"${TFLM_REF_VAR} or the pin selects it for builds"
    )
