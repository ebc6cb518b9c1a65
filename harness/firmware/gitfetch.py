"""Third-party sources fetched at run time from their upstream git at a ref, into the user cache.

One machinery for every fetched source (the TFLM library: harness/firmware/library.py; the
Arduino core: harness/firmware/arduino_core.py): a sparse checkout of a blob-less, shallow
fetch of the ref alone, so a mirror that lacks blobs outside the sparse paths serves as well as
GitHub, and a local repository is accepted in place of the URL. The checkout is written under
a temporary name and renamed, under a file lock, with a metadata file beside the sources;
nothing fetched ever enters the repository.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from filelock import FileLock

from ..errors import BuildError, ConfigError

METADATA = ".tflm-hil-library.json"  # the name checkouts fetched before this module keep
GIT_TIMEOUT_S = 15 * 60.0
# A local repository serves a blob-less, shallow fetch of any commit only when asked to.
LOCAL_UPLOAD_PACK = (
    "git -c uploadpack.allowFilter=true -c uploadpack.allowAnySHA1InWant=true upload-pack"
)


def git(args: list[str], cwd: Path) -> str:
    cmd = ["git", *args]
    try:
        run = subprocess.run(
            cmd, cwd=cwd, capture_output=True, text=True, timeout=GIT_TIMEOUT_S, check=False
        )
    except FileNotFoundError as exc:
        raise BuildError("git is needed to fetch third-party sources: apt-get install git") from exc
    except subprocess.TimeoutExpired as exc:
        raise BuildError(f"{shlex.join(cmd)} ran longer than {GIT_TIMEOUT_S:.0f} s") from exc
    if run.returncode != 0:
        tail = "\n".join(run.stderr.strip().splitlines()[-6:])
        raise BuildError(f"{shlex.join(cmd)} failed in {cwd}:\n{tail}")
    return run.stdout


def commit_date(root: Path, fmt: str = "%as") -> str:
    """The checkout's commit date (YYYY-MM-DD; ``%cI``: the commit time, ISO), or "" when git
    cannot tell."""
    try:
        return git(["log", "-1", f"--format={fmt}", "HEAD"], root).strip()
    except BuildError:
        return ""


def source_url(source: str | None, default: str) -> str:
    """A URL as given; a local directory as an absolute path; ``default`` when None."""
    if source is None:
        return default
    if "://" not in source and not source.startswith("git@"):
        path = Path(source).expanduser()
        if not path.exists():
            raise ConfigError(f"--from {source}: no such directory and not a URL")
        return str(path.resolve())
    return source


def clone_sparse(
    url: str, ref: str, into: Path, sparse: Sequence[str], before: str = ""
) -> str:
    """A sparse checkout (gitignore-style ``sparse`` patterns) of ``ref`` from ``url`` in
    ``into``; returns the commit. With ``before`` (an ISO date), the newest commit of ``ref``'s
    history committed at or before it: what a release script that cloned ``ref`` then got."""
    into.mkdir(parents=True)
    git(["init", "-q"], into)
    git(["remote", "add", "origin", url], into)
    if Path(url).is_dir():
        git(["config", "remote.origin.uploadpack", LOCAL_UPLOAD_PACK], into)
    if before:  # the ref's history without blobs, to choose a commit by date
        git(["fetch", "-q", "--filter=blob:none", "origin", ref], into)
        target = git(["rev-list", "-1", f"--before={before}", "FETCH_HEAD"], into).strip()
        if not target:
            raise BuildError(f"{url} has no commit of {ref} before {before}")
    else:
        try:  # the ref alone, without history or blobs
            git(["fetch", "-q", "--depth", "1", "--filter=blob:none", "origin", ref], into)
            target = "FETCH_HEAD"
        except BuildError:  # servers that refuse a commit by name: every ref, still blob-less
            git(["fetch", "-q", "--filter=blob:none", "--tags", "origin"], into)
            target = ref
    git(["sparse-checkout", "set", "--no-cone", *sparse], into)
    git(["checkout", "-q", "--detach", target], into)
    return git(["rev-parse", "HEAD"], into).strip()


def fetch_into_cache(
    url: str,
    ref: str,
    root: Path,
    sparse: Sequence[str],
    what: str,
    emit: Callable[[str], None] = print,
    before: str = "",
) -> None:
    """Fetches ``ref`` of ``url`` (at ``before``: see clone_sparse) into ``root``, replacing
    what was there, with its metadata."""
    root.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(f"{root}.lock"):
        tmp = root.with_name(f"{root.name}.tmp{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        emit(f"fetching {what} from {url} at {ref}" + (f" as of {before}" if before else ""))
        try:
            commit = clone_sparse(url, ref, tmp, sparse, before)
            date = commit_date(tmp)
            meta = {"ref": ref, "commit": commit, "date": date, "url": url, "fetched": time.time()}
            (tmp / METADATA).write_text(json.dumps(meta, indent=2) + "\n")
            shutil.rmtree(root, ignore_errors=True)
            tmp.rename(root)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


def read_metadata(root: Path) -> dict | None:
    """A fetched checkout's metadata, or None when ``root`` holds none."""
    try:
        meta = json.loads((root / METADATA).read_text())
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) and "commit" in meta and "url" in meta else None


def fetched_urls(parent: Path) -> list[str]:
    """Where the checkouts under ``parent`` came from (their metadata's url), most used first."""
    counts: dict[str, int] = {}
    for child in parent.glob("*"):
        meta = read_metadata(child)
        if meta is not None:
            counts[meta["url"]] = counts.get(meta["url"], 0) + 1
    return sorted(counts, key=lambda u: -counts[u])
