"""One cell's result: its axes, one outcome, the failing gate or error, and its figures.

Written as JSON. A cell writes a provisional result (``timeout``, ``provisional: true``) before
it starts work and replaces it atomically when it ends, so a cell killed half-way still
leaves a result that says so.
"""

from __future__ import annotations

import json
import os
import re
import socket
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from ...errors import ConfigError
from ...provenance import Provenance

# The outcomes (docs/matrix.md), best first. `compiles`: a hardware cell compiled against its
# core and library, with no board to run on. `timeout` also covers the rig failing (link,
# device, harness): the model was not judged.
STATUSES = (
    "pass", "compiles", "degraded", "unsupported", "crash", "install", "build", "flash", "timeout"
)  # fmt: skip
# The matrices: simulated (the twin, tflite-micro runtimes), emulated (QEMU, TFLM library
# refs), hardware (real boards, library refs and Arduino cores).
KINDS = ("sim", "emu", "hw")
SCHEMA = 1

# Figures the grid shows in each cell, each with the metric names that supply it, in order
# of preference (the HIL suite records them; see harness/metrics).
KEY_FIGURES: dict[str, tuple[str, ...]] = {
    "agreement": ("top1_agreement_vs_float",),
    "latency_us": ("latency_us_median", "latency_us_mean", "latency_us_min"),
    "arena_bytes": ("arena_used_bytes",),
    "flash_bytes": ("flash_bytes",),
}


@dataclass
class CellResult:
    kind: str  # one of KINDS
    model: str
    row: str  # the grid's row id (a runtime, or a TFLM library ref)
    column: str  # the grid's column id (a converter; board and converter; board and core)
    axes: dict[str, str]
    status: str
    stage: str = ""  # where it was decided: env, convert, probe, suite, gate, run
    gate: str = ""  # the failing gate or test
    error: str = ""
    category: str = ""  # a finer cause: failure_category, signal name, exit status
    figures: dict[str, float] = field(default_factory=dict)
    # figure name -> "estimated" (the twin's cost model) or "emulated" (QEMU); the others
    # were measured on a board
    provenance: dict[str, str] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    logs: dict[str, str] = field(default_factory=dict)
    provisional: bool = False
    started: float = field(default_factory=time.time)
    finished: float | None = None
    host: str = field(default_factory=socket.gethostname)
    schema: int = SCHEMA

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"unknown cell status {self.status!r}; one of {', '.join(STATUSES)}")

    @property
    def cell_id(self) -> str:
        return f"{self.kind}/{self.model}/{self.row}/{self.column}"

    @property
    def duration_s(self) -> float | None:
        return None if self.finished is None else self.finished - self.started

    def key_figures(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for label, names in KEY_FIGURES.items():
            for name in names:
                if name in self.figures:
                    out[label] = self.figures[name]
                    break
        return out

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["duration_s"] = self.duration_s
        data["key_figures"] = self.key_figures()
        return data

    def marked(self, names: tuple[str, ...] | list[str]) -> str:
        """The provenance mark (harness.provenance) of the first of ``names`` that has one."""
        for name in names:
            if name in self.provenance:
                return Provenance(self.provenance[name]).mark
        return ""

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CellResult:
        if "estimated" in data and "provenance" not in data:  # results written before labels
            data = {**data, "provenance": dict.fromkeys(data["estimated"], "estimated")}
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


_PATH = re.compile(r"\S*/\S*(:\s*|\s+)")


def headline(error: str, width: int = 160) -> str:
    """An error's first line without the source paths that open tool messages."""
    first = error.strip().splitlines()[0] if error.strip() else ""
    text = _PATH.sub("", first).strip() or first
    return text if len(text) <= width else text[: width - 1] + "…"


_COMPILER_ERROR = re.compile(r"^(\S+?):(\d+)(?::\d+)?: ((?:fatal )?error: .*)$")
_UNDEFINED = "undefined reference"


def first_error(error: str, width: int = 200) -> str:
    """A build failure's first compiler error, as ``file.cpp:LINE: error: ...`` (the file's
    directory left out), else its first undefined reference, else ""."""
    lines = [ln.strip().removesuffix('"') for ln in error.splitlines()]  # pytest quotes it
    text = next(
        (
            f"{Path(m.group(1)).name}:{m.group(2)}: {m.group(3)}"
            for m in map(_COMPILER_ERROR.match, lines)
            if m
        ),
        None,
    ) or next((ln[ln.index(_UNDEFINED) :] for ln in lines if _UNDEFINED in ln), "")
    return text if len(text) <= width else text[: width - 1] + "…"


def write_result(result: CellResult, path: Path) -> None:
    """Atomic: a reader (or a cell killed mid-write) never sees half a file.

    Not harness.atomic: its temporary file ends in ``.json``, and read_results takes
    every ``*.json`` under a directory, so one left by a killed cell would be read as a result."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(result.to_json(), f, indent=2, sort_keys=True)
        f.write("\n")
    os.replace(tmp, path)


def read_result(path: Path) -> CellResult:
    try:
        return CellResult.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError) as exc:
        raise ConfigError(f"{path} is not a matrix cell result: {exc}") from exc


def read_results(paths: list[Path]) -> list[CellResult]:
    """Cell results from files and directories (every *.json below a directory)."""
    files: list[Path] = []
    for p in paths:
        files.extend(sorted(p.rglob("*.json")) if p.is_dir() else [p])
    results = []
    for f in files:
        try:
            data = json.loads(f.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{f} is not readable JSON: {exc}") from exc
        if isinstance(data, dict) and data.get("schema") == SCHEMA and "status" in data:
            try:
                results.append(CellResult.from_json(data))
            except (TypeError, ValueError) as exc:
                raise ConfigError(
                    f"{f} is a damaged matrix cell result ({exc}): run its cell again or delete it"
                ) from exc
    return results


def provisional(result: CellResult) -> CellResult:
    """The result left behind if this cell never finishes (``result`` is the cell's base)."""
    return replace(
        result,
        status="timeout",
        stage="run",
        error=(
            f"the cell started at {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime())} "
            f"(pid {os.getpid()}, {sys.executable}) and never finished: it was killed, "
            "or the machine stopped"
        ),
        category="unfinished",
        provisional=True,
    )
