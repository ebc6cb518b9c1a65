"""The model registry: every converted model, content-addressed, with what made it.

Layout of the registry folder (default ``.tflm-hil/registry``, or $TFLM_HIL_REGISTRY)::

    objects/ab/abcdef...      blobs named by their sha256 (models, references, records)
    models/<sha256>.json      one entry per model: its files (by role), training and
                              conversion facts, versions, validations, field accuracy
    state.json                per board: the promoted model and the promotion history
    events.jsonl              maintenance activity, one JSON object a line
    cards/<sha256>.md         model cards of promoted versions; CHANGELOG.md
    deployed/<board>/         the promoted model's files, as a build or a user takes them

A model's identity is the sha256 of its .tflite. Every blob is verified against its name
when read, so a damaged registry is detected, never used.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from filelock import FileLock

from ... import atomic
from ...errors import ConfigError, HilError
from ...tflite.model import TfliteModel

REGISTRY_ENV = "TFLM_HIL_REGISTRY"
ROLES = ("model", "reference", "preprocess", "vectors")
HEX = set("0123456789abcdef")


class IntegrityError(HilError):
    """A registry file or archive does not match its recorded hash: nothing was changed."""

    category = "integrity"


def default_root() -> Path:
    env = os.environ.get(REGISTRY_ENV)
    return Path(env) if env else Path.cwd() / ".tflm-hil" / "registry"


def board_dir_name(board: str) -> str:
    return board.replace(":", "-").replace("/", "-")


@dataclass(frozen=True)
class FileRef:
    sha256: str
    name: str  # the file name it was registered from (its suffix matters: .h5 vs .keras)
    bytes: int


@dataclass
class ModelEntry:
    sha256: str
    created: float
    source: str
    files: dict[str, FileRef]
    training: dict[str, Any] = field(default_factory=dict)
    conversion: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, Any] = field(default_factory=dict)
    validations: list[dict[str, Any]] = field(default_factory=list)
    field_results: list[dict[str, Any]] = field(default_factory=list)

    @property
    def short(self) -> str:
        return self.sha256[:12]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelEntry:
        return cls(
            sha256=d["sha256"], created=float(d["created"]), source=d.get("source", ""),
            files={k: FileRef(**v) for k, v in d["files"].items()},
            training=d.get("training", {}), conversion=d.get("conversion", {}),
            versions=d.get("versions", {}), validations=list(d.get("validations", [])),
            field_results=list(d.get("field_results", [])),
        )

    def last_validation(self, board: str) -> dict[str, Any] | None:
        runs = [v for v in self.validations if v.get("board") == board]
        return runs[-1] if runs else None


class Registry:
    def __init__(self, root: Path):
        self.root = root

    @classmethod
    def open(cls, root: str | os.PathLike[str] | None = None) -> Registry:
        return cls(Path(root) if root else default_root())

    # ---- locking and files ----

    @contextmanager
    def locked(self) -> Iterator[None]:
        """One writer at a time (two promotions racing would both read the old state)."""
        self.root.mkdir(parents=True, exist_ok=True)
        with FileLock(str(self.root / ".lock")):
            yield

    def blob_path(self, sha: str) -> Path:
        return self.root / "objects" / sha[:2] / sha

    def put_bytes(self, data: bytes) -> str:
        sha = atomic.sha256_bytes(data)
        path = self.blob_path(sha)
        if not path.is_file() or atomic.sha256_file(path) != sha:
            atomic.write_bytes(path, data)
        return sha

    def put_file(self, path: Path) -> FileRef:
        data = path.read_bytes()
        return FileRef(self.put_bytes(data), path.name, len(data))

    def blob(self, sha: str) -> bytes:
        path = self.blob_path(sha)
        if not path.is_file():
            raise IntegrityError(f"registry blob {sha[:12]} is missing from {self.root}: restore "
                                 "the registry from a backup (tflm-hil model restore)")
        data = path.read_bytes()
        if atomic.sha256_bytes(data) != sha:
            raise IntegrityError(f"registry blob {path} is damaged (its content no longer has "
                                 "the hash it is named by): restore it from a backup")
        return data

    # ---- entries ----

    def entry_path(self, sha: str) -> Path:
        return self.root / "models" / f"{sha}.json"

    def entries(self) -> list[ModelEntry]:
        folder = self.root / "models"
        found = [self._read_entry(p) for p in folder.glob("*.json")] if folder.is_dir() else []
        return sorted(found, key=lambda e: (e.created, e.sha256))

    def _read_entry(self, path: Path) -> ModelEntry:
        try:
            return ModelEntry.from_dict(atomic.read_json(path))
        except (ValueError, KeyError, TypeError) as exc:
            raise IntegrityError(f"registry entry {path} is unreadable: {exc}") from exc

    def save(self, entry: ModelEntry) -> None:
        atomic.write_json(self.entry_path(entry.sha256), entry.to_dict())

    def get(self, ref: str) -> ModelEntry:
        """An entry by full hash, unique hash prefix (6+ characters) or .tflite file path."""
        p = Path(ref)
        if p.suffix == ".tflite" or p.is_file():
            if not p.is_file():
                raise ConfigError(f"model file {p} does not exist")
            sha = TfliteModel.load(p).sha256  # a non-TFLite file is refused here
            if not self.entry_path(sha).is_file():
                raise ConfigError(f"{p} (sha256 {sha[:12]}) is not in the registry {self.root}: "
                                  f"register it (tflm-hil model register {p})")
            return self._read_entry(self.entry_path(sha))
        key = ref.lower()
        if len(key) < 6 or not set(key) <= HEX:
            raise ConfigError(f"{ref!r} is neither a .tflite file nor a model hash (6 or more hex "
                              "digits): see `tflm-hil model list`")
        matches = [e for e in self.entries() if e.sha256.startswith(key)]
        if not matches:
            raise ConfigError(f"no model {ref} in the registry {self.root}: see "
                              "`tflm-hil model list`")
        if len(matches) > 1:
            raise ConfigError(f"{ref} matches {len(matches)} models: give more digits")
        return matches[0]

    def register_files(self, model: Path, *, reference: Path | None = None,
                       vectors: Path | None = None, preprocess: Path | None = None,
                       facts: dict[str, Any] | None = None) -> ModelEntry:
        info = TfliteModel.load(model)  # refuses a file that is not a TFLite flatbuffer
        for label, path, suffixes in (("reference", reference, (".h5", ".keras", ".tflite")),
                                      ("vectors", vectors, (".npz",)),
                                      ("preprocessing record", preprocess, (".json",))):
            if path is not None and (not path.is_file() or path.suffix.lower() not in suffixes):
                raise ConfigError(f"the {label} {path} is missing or not a "
                                  f"{'/'.join(suffixes)} file")
        facts = facts or {}
        with self.locked():
            if self.entry_path(info.sha256).is_file():
                return self._read_entry(self.entry_path(info.sha256))
            files = {"model": self.put_file(model)}
            for role, path in (("reference", reference), ("vectors", vectors),
                               ("preprocess", preprocess)):
                if path is not None:
                    files[role] = self.put_file(path)
            entry = ModelEntry(
                sha256=info.sha256, created=time.time(), source=str(model.resolve()),
                files=files, training=facts.get("training", {}),
                conversion=facts.get("conversion", {
                    "bytes": len(info.data), "ops": info.op_versions, "macs": info.macs}),
                versions=facts.get("versions", {}),
            )
            self.save(entry)
            self.log("registered", model=info.sha256, source=str(model))
        return entry

    def register_from_files(self, model: Path, *, reference: Path | None = None,
                            vectors: Path | None = None,
                            preprocess: Path | None = None) -> ModelEntry:
        """Registers a .tflite with the files beside it (written by `tflm-hil model convert`):
        its reference (through the stamp), ``<stem>.vectors.npz``, ``<stem>.preprocess.json``;
        a file given explicitly wins."""
        from ..pipeline.conversion import vectors_path
        from ..pipeline.preprocess import preprocess_path
        from ..pipeline.stamp import Stamp

        stamp = Stamp.load(model)
        facts: dict[str, Any] = {}
        if stamp is not None and stamp.step == "convert":
            info = dict(stamp.info)
            ref = info.get("reference", {})
            if reference is None and ref.get("path"):
                reference = Path(ref["path"])
                if not reference.is_file() or atomic.sha256_file(reference) != ref["sha256"]:
                    raise ConfigError(
                        f"the float reference {reference} that {model.name} was converted from "
                        "is missing or changed since: reconvert, or pass --reference"
                    )
            training = info.pop("training", {})
            facts = {"training": training, "versions": info.pop("versions", {}),
                     "conversion": {k: v for k, v in info.items() if k != "reference"}}
        vectors = vectors or _beside(vectors_path(model))
        preprocess = preprocess or _beside(preprocess_path(model))
        return self.register_files(model, reference=reference, vectors=vectors,
                                   preprocess=preprocess, facts=facts)

    def export(self, entry: ModelEntry, dest: Path, *, stem: str = "model") -> dict[str, Path]:
        """Writes the entry's files into ``dest`` (verified by hash); returns them by role."""
        dest.mkdir(parents=True, exist_ok=True)
        out: dict[str, Path] = {}
        for role, ref in entry.files.items():
            suffix = {"model": ".tflite", "vectors": ".vectors.npz",
                      "preprocess": ".preprocess.json"}.get(role, Path(ref.name).suffix)
            name = f"{stem}{suffix}" if role != "reference" else f"{stem}.reference{suffix}"
            atomic.write_bytes(dest / name, self.blob(ref.sha256))
            if atomic.sha256_file(dest / name) != ref.sha256:
                raise IntegrityError(f"{dest / name} does not have the registered hash after "
                                     "writing it: check the disk")
            out[role] = dest / name
        return out

    # ---- state and activity ----

    def state(self) -> dict[str, Any]:
        path = self.root / "state.json"
        if not path.is_file():
            return {"boards": {}}
        try:
            return atomic.read_json(path)
        except ValueError as exc:
            raise IntegrityError(f"{path} is unreadable: {exc}; restore a backup") from exc

    def save_state(self, state: dict[str, Any]) -> None:
        atomic.write_json(self.root / "state.json", state)

    def promoted(self, board: str) -> str | None:
        return self.state()["boards"].get(board, {}).get("promoted")

    def log(self, kind: str, **fields: Any) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        line = json.dumps({"time": time.time(), "event": kind, **fields}, sort_keys=True)
        with open(self.root / "events.jsonl", "a", encoding="utf-8") as f:
            f.write(line + "\n")

    def events(self) -> list[dict[str, Any]]:
        path = self.root / "events.jsonl"
        if not path.is_file():
            return []
        out = []
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                try:
                    out.append(json.loads(line))
                except ValueError:
                    continue  # a line cut by a crash: the others still count
        return out


def _beside(path: Path) -> Path | None:
    return path if path.is_file() else None
