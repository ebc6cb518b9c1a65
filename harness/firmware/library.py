"""The TFLM Arduino library's sources, fetched at run time into the user cache, as PlatformIO does.

``tflm-hil firmware fetch [--ref REF] [--from URL_OR_GIT_DIR]`` clones the library from the
``lib_deps`` repository of ``firmware/platformio.ini`` (``[hil] tflm_repo``), or from
``--from``, at the ref (default: the pin), into ``<cache>/libraries/tflm/<ref>/``. Only what a
build needs is checked out (``src/`` and the licence: a sparse checkout of a blob-less clone),
so a mirror that lacks blobs outside ``src/`` serves as well as GitHub. Nothing fetched ever
enters the repository; builds find a checkout by the ref they are pinned to.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from filelock import FileLock

from ..errors import BuildError, ConfigError
from ..paths import cache_dir
from .pins import TFLM_REF_VAR, check_pins, read_platformio_ini, resolve_pins

SPARSE_PATHS = ("/src/", "/LICENSE", "/library.properties")
METADATA = ".tflm-hil-library.json"
GIT_TIMEOUT_S = 15 * 60.0
# A local repository serves a blob-less, shallow fetch of any commit only when asked to.
LOCAL_UPLOAD_PACK = (
    "git -c uploadpack.allowFilter=true -c uploadpack.allowAnySHA1InWant=true upload-pack"
)


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
    counts: dict[str, int] = {}
    for meta in libraries_dir().glob(f"*/{METADATA}"):
        try:
            url = json.loads(meta.read_text())["url"]
        except (OSError, ValueError, KeyError):
            continue
        counts[url] = counts.get(url, 0) + 1
    return sorted(counts, key=lambda u: -counts[u])


def find_library(ref: str) -> LibraryCheckout | None:
    root = checkout_dir(ref)
    try:
        meta = json.loads((root / METADATA).read_text())
    except (OSError, ValueError):
        return None
    if not (root / "src").is_dir():
        return None
    date = meta.get("date") or _commit_date(root)  # checkouts fetched before dates were kept
    return LibraryCheckout(ref, meta["commit"], meta["url"], root, date)


def _commit_date(root: Path) -> str:
    try:
        return _git(["log", "-1", "--format=%as", "HEAD"], root).strip()
    except BuildError:
        return ""


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


def _git(args: list[str], cwd: Path) -> str:
    cmd = ["git", *args]
    try:
        run = subprocess.run(
            cmd, cwd=cwd, capture_output=True, text=True, timeout=GIT_TIMEOUT_S, check=False
        )
    except FileNotFoundError as exc:
        raise BuildError("git is needed to fetch the TFLM library: apt-get install git") from exc
    except subprocess.TimeoutExpired as exc:
        raise BuildError(f"{shlex.join(cmd)} ran longer than {GIT_TIMEOUT_S:.0f} s") from exc
    if run.returncode != 0:
        tail = "\n".join(run.stderr.strip().splitlines()[-6:])
        raise BuildError(f"{shlex.join(cmd)} failed in {cwd}:\n{tail}")
    return run.stdout


def _source(source: str | None) -> str:
    """A URL as given; a local directory as an absolute path."""
    if source is None:
        return library_url()
    if "://" not in source and not source.startswith("git@"):
        path = Path(source).expanduser()
        if not path.exists():
            raise ConfigError(f"--from {source}: no such directory and not a URL")
        return str(path.resolve())
    return source


def _clone(url: str, ref: str, into: Path) -> str:
    """A sparse checkout of ``ref`` from ``url`` in ``into``; returns the commit."""
    into.mkdir(parents=True)
    _git(["init", "-q"], into)
    _git(["remote", "add", "origin", url], into)
    if Path(url).is_dir():
        _git(["config", "remote.origin.uploadpack", LOCAL_UPLOAD_PACK], into)
    try:  # the ref alone, without history or blobs
        _git(["fetch", "-q", "--depth", "1", "--filter=blob:none", "origin", ref], into)
        target = "FETCH_HEAD"
    except BuildError:  # servers that refuse a commit by name: every ref, still blob-less
        _git(["fetch", "-q", "--filter=blob:none", "--tags", "origin"], into)
        target = ref
    _git(["sparse-checkout", "set", "--no-cone", *SPARSE_PATHS], into)
    _git(["checkout", "-q", "--detach", target], into)
    return _git(["rev-parse", "HEAD"], into).strip()


def fetch_library(
    ref: str | None = None, source: str | None = None, emit: Callable[[str], None] = print
) -> LibraryCheckout:
    """Fetches the library at ``ref`` into the cache (again, if it was there); returns it."""
    ref = check_pins(replace(resolve_pins(), tflm_ref=ref)).tflm_ref if ref else default_ref()
    url = _source(source)
    root = checkout_dir(ref)
    root.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(f"{root}.lock"):
        tmp = root.with_name(f"{root.name}.tmp{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        emit(f"fetching the TFLM library from {url} at {ref}")
        try:
            commit = _clone(url, ref, tmp)
            date = _commit_date(tmp)
            meta = {"ref": ref, "commit": commit, "date": date, "url": url, "fetched": time.time()}
            (tmp / METADATA).write_text(json.dumps(meta, indent=2) + "\n")
            shutil.rmtree(root, ignore_errors=True)
            tmp.rename(root)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
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
