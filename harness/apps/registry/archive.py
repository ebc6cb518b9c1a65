"""Backup and restore of the whole registry as one .tar.gz, verified by hashes.

The archive holds every registry file and ``MANIFEST.json`` (each file's sha256). Restore
extracts into a staging folder beside the registry, checks the manifest (no file missing,
added or changed), every blob against the hash it is named by and every entry's files;
only then does it swap the folders. A bad archive changes nothing.
"""

from __future__ import annotations

import io
import json
import shutil
import tarfile
import tempfile
import time
import zlib
from pathlib import Path

from ... import __version__, atomic
from ...errors import ConfigError
from .store import IntegrityError, Registry

MANIFEST = "MANIFEST.json"
SKIP = {".lock"}


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and p.name not in SKIP
                  and not any(part.startswith(".") for part in p.relative_to(root).parts))


def backup(registry: Registry, output: Path) -> tuple[int, str]:
    """Writes the archive atomically; returns (files, the archive's sha256)."""
    if not registry.root.is_dir():
        raise ConfigError(f"there is no registry at {registry.root} to back up")
    if not output.name.endswith((".tar.gz", ".tgz")):
        raise ConfigError(f"--output {output} must end in .tar.gz")
    with registry.locked():
        verify(registry.root)  # never archive a damaged registry as if it were good
        files = _files(registry.root)
        created = time.time()
        manifest = {"kind": "tflm-hil registry", "tflm-hil": __version__, "created": created,
                    "files": {str(p.relative_to(registry.root)): atomic.sha256_file(p)
                              for p in files}}
        with atomic.atomic_path(output) as tmp, tarfile.open(tmp, "w:gz") as tar:
            data = (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode()
            info = tarfile.TarInfo(MANIFEST)
            info.size, info.mtime = len(data), int(created)
            tar.addfile(info, io.BytesIO(data))
            for p in files:
                tar.add(p, arcname=str(p.relative_to(registry.root)), recursive=False)
    digest = atomic.sha256_file(output)
    atomic.write_text(output.with_name(output.name + ".sha256"), f"{digest}  {output.name}\n")
    registry.log("backup", archive=str(output), sha256=digest, files=len(files))
    return len(files), digest


def verify(root: Path) -> None:
    """Every blob matches its name, every entry's files exist, the state names known models."""
    reg = Registry(root)
    for blob in (root / "objects").rglob("*") if (root / "objects").is_dir() else []:
        if blob.is_file() and atomic.sha256_file(blob) != blob.name:
            raise IntegrityError(f"blob {blob.relative_to(root)} does not match its hash")
    known = set()
    for entry in reg.entries():
        known.add(entry.sha256)
        for role, ref in entry.files.items():
            if not reg.blob_path(ref.sha256).is_file():
                raise IntegrityError(f"model {entry.short}: its {role} blob is missing")
        if entry.files["model"].sha256 != entry.sha256:
            raise IntegrityError(f"model entry {entry.short} names another model blob")
    for board, b in reg.state().get("boards", {}).items():
        if b.get("promoted") and b["promoted"] not in known:
            raise IntegrityError(f"state: {board} promotes {b['promoted'][:12]}, not registered")


def restore(archive: Path, target: Path, *, expected_sha256: str | None = None) -> Path | None:
    """Restores ``archive`` into ``target``; returns where the replaced registry was kept."""
    if not archive.is_file():
        raise ConfigError(f"the archive {archive} does not exist")
    want = expected_sha256 or _recorded_sha256(archive)
    if want and atomic.sha256_file(archive) != want:
        raise IntegrityError(f"{archive} does not have the sha256 recorded for it ({want[:12]}"
                             "...): the archive is damaged or not the one backed up")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.restore.", dir=target.parent))
    try:
        _extract(archive, staging)
        manifest_path = staging / MANIFEST
        if not manifest_path.is_file():
            raise IntegrityError(f"{archive} has no {MANIFEST}: not a tflm-hil registry backup")
        manifest = atomic.read_json(manifest_path)
        manifest_path.unlink()
        listed = manifest.get("files", {})
        present = {str(p.relative_to(staging)) for p in _files(staging)}
        if set(listed) != present:
            extra, missing = present - set(listed), set(listed) - present
            raise IntegrityError(f"{archive}: files missing {sorted(missing)[:3]} or unlisted "
                                 f"{sorted(extra)[:3]}")
        for rel, sha in listed.items():
            if atomic.sha256_file(staging / rel) != sha:
                raise IntegrityError(f"{archive}: {rel} does not match its manifest hash")
        verify(staging)
        kept = None
        if target.exists():
            kept = target.with_name(f"{target.name}.before-restore-{int(time.time())}")
            target.rename(kept)
        staging.rename(target)
        Registry(target).log("restored", archive=str(archive), files=len(listed))
        return kept
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def _recorded_sha256(archive: Path) -> str | None:
    """The hash in the archive's ``.sha256`` file (written by backup), if there is one."""
    sidecar = archive.with_name(archive.name + ".sha256")
    if not sidecar.is_file():
        return None
    fields = sidecar.read_text().split()
    if not fields:
        raise IntegrityError(f"{sidecar} is empty: pass --sha256 with the archive's hash, or "
                             f"delete {sidecar.name} to restore without that check")
    return fields[0]


def _extract(archive: Path, dest: Path) -> None:
    try:
        with tarfile.open(archive, "r:*") as tar:
            for m in tar.getmembers():
                if not (m.isfile() or m.isdir()) or m.name.startswith("/") or ".." in Path(
                        m.name).parts:
                    raise IntegrityError(f"{archive}: unsafe member {m.name!r} refused")
            tar.extractall(dest, filter="data")  # the data filter also refuses links, devices
    except (tarfile.TarError, EOFError, zlib.error) as exc:  # a truncated gzip ends in EOFError
        raise IntegrityError(
            f"{archive} is not a readable .tar.gz ({exc or type(exc).__name__}): it is damaged "
            "or truncated; restore from another copy"
        ) from exc
