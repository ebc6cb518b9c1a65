"""Stamps: what a step made its outputs from, so that an up-to-date step is skipped.

A stamp is ``<primary output>.json``: the step, a *recipe* (the hashes of the inputs, the
parameters and seed, the versions of the tools that shape the result) and the hashes of the
outputs. A step is up to date when its stamp's recipe equals the one it would use now and
every output still has the recorded hash; then it does nothing.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ... import __version__, atomic
from ...errors import ConfigError

STAMP_VERSION = 1


def stamp_path(output: str | os.PathLike[str]) -> Path:
    p = Path(output)
    return p.with_name(p.name + ".json")


def package_versions(*names: str) -> dict[str, str]:
    """Installed versions, read without importing the packages (TensorFlow takes seconds)."""
    out = {"tflm-hil": __version__}
    for name in names:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "absent"
    return out


@dataclass
class Stamp:
    step: str
    recipe: dict[str, Any]
    outputs: dict[str, str] = field(default_factory=dict)  # file name -> sha256
    info: dict[str, Any] = field(default_factory=dict)  # the step's findings (metrics, shapes)
    version: int = STAMP_VERSION

    @property
    def recipe_hash(self) -> str:
        text = json.dumps(self.recipe, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    def save(self, primary: str | os.PathLike[str]) -> None:
        atomic.write_json(stamp_path(primary), {**asdict(self), "recipe_hash": self.recipe_hash})

    @classmethod
    def load(cls, primary: str | os.PathLike[str]) -> Stamp | None:
        path = stamp_path(primary)
        if not path.is_file():
            return None
        try:
            raw = atomic.read_json(path)
            return cls(
                raw["step"],
                raw["recipe"],
                raw.get("outputs", {}),
                raw.get("info", {}),
                raw.get("version", STAMP_VERSION),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"{path} is not a tflm-hil stamp ({exc}): delete it to redo") from exc

    @classmethod
    def require(cls, primary: str | os.PathLike[str], step: str, hint: str) -> Stamp:
        stamp = cls.load(primary)
        if stamp is None or stamp.step != step:
            raise ConfigError(
                f"{primary} has no {step} stamp ({stamp_path(primary).name}) beside it: {hint}"
            )
        return stamp

    def up_to_date(self, primary: str | os.PathLike[str]) -> bool:
        """True when the stamp on disk has this recipe and every output is unchanged; then
        this stamp takes the recorded outputs and findings (``info``) for the step's result."""
        old = Stamp.load(primary)
        if old is None or old.step != self.step or old.recipe_hash != self.recipe_hash:
            return False
        folder = Path(primary).parent
        for name, digest in old.outputs.items():
            f = folder / name
            if not f.is_file() or atomic.sha256_file(f) != digest:
                return False
        self.outputs, self.info = old.outputs, old.info
        return True


def stamped_shape(data_file: str | os.PathLike[str]) -> tuple[int, ...] | None:
    """The per-row shape a CSV's stamp records (collect and preprocess write it), if any."""
    stamp = Stamp.load(data_file)
    shape = stamp.info.get("shape") if stamp else None
    return tuple(int(d) for d in shape) if shape else None


def record_outputs(stamp: Stamp, *paths: Path) -> None:
    for p in paths:
        stamp.outputs[p.name] = atomic.sha256_file(p)
