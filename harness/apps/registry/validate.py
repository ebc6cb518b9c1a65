"""Validation: the HIL suite run on a board for a registered model, as a subprocess.

The model's files are exported from the registry (hash-checked) and the suite runs as a
user runs it (``harness.plugin.runner``: ``python -m pytest --pyargs harness.suite --model ...
--vectors ... --reference ... --board B --hil-db DB``), in its own process group with a time
limit. Its run in the results store (found by model hash, board and a run id newer than
before) is linked to the registry entry with its figures.
"""

from __future__ import annotations

import os
import tempfile
import time
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...boards.catalog import resolve_board
from ...errors import EXIT_INFRA
from ...plugin.runner import SuiteRun
from ...plugin.runner import run_suite as run_suite_child
from ...proc import read_tail
from ...provenance import Figure
from ...results.store import ResultsStore, default_db_path, run_figures
from .store import ModelEntry, Registry, board_dir_name

# A real board's first PlatformIO build alone can take most of an hour (BUILD_TIMEOUT_S)
DEFAULT_TIMEOUT_S = 3600.0
# The suite's exit status: pytest's, plus the plugin's EXIT_INFRA (the rig failed, the model
# was not judged).
EXIT_MEANING = {0: "passed", 1: "tests failed", 2: "interrupted", 3: "internal error",
                4: "bad configuration", 5: "no tests ran", EXIT_INFRA: "infrastructure failure"}


@dataclass
class ValidationRun:
    """One run of the HIL suite on one board for a registered model, as the registry keeps it
    (the JSON key is ``validations``)."""

    board: str
    exit_status: int
    run_id: int | None
    db: str
    figures: dict[str, Figure] = field(default_factory=dict)
    failures: list[dict[str, Any]] = field(default_factory=list)
    started: float = 0.0
    log: str = ""
    device: dict[str, Any] = field(default_factory=dict)
    tail: str = ""  # the suite's last output lines, for a refusal's reason

    @property
    def passed(self) -> bool:
        return self.exit_status == 0

    def to_dict(self) -> dict[str, Any]:
        return {"board": self.board, "exit_status": self.exit_status, "run_id": self.run_id,
                "db": self.db, "started": self.started, "log": self.log,
                "figures": {k: v.to_dict() for k, v in self.figures.items()},
                "failures": self.failures, "device": self.device}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ValidationRun:
        return cls(d["board"], int(d["exit_status"]), d.get("run_id"), d.get("db", ""),
                   {k: Figure.from_dict(v) for k, v in d.get("figures", {}).items()},
                   list(d.get("failures", [])), float(d.get("started", 0.0)),
                   d.get("log", ""), dict(d.get("device", {})))


def db_path(db: str | os.PathLike[str] | None) -> Path:
    return Path(db) if db else default_db_path(Path.cwd())


def run_suite(registry: Registry, entry: ModelEntry, board: str, db: Path,
              timeout: float = DEFAULT_TIMEOUT_S) -> ValidationRun:
    resolve_board(board)  # an unknown board is a ConfigError naming the known ones
    with closing(ResultsStore(db)) as store:
        before = max((r["id"] for r in store.runs()), default=0)
    log_dir = registry.root / "logs"
    started = time.time()
    log = log_dir / f"{entry.short}-{board_dir_name(board)}-{int(started)}.log"
    with tempfile.TemporaryDirectory(prefix="tflm-hil-validate-") as tmp:
        files = registry.export(entry, Path(tmp), stem=entry.short)
        run = SuiteRun(board, files["model"], vectors=files.get("vectors"),
                       reference=files.get("reference"), db=db, log_dir=log_dir)
        proc = run_suite_child(run, log=log, timeout=timeout)
    # a timeout is a rig failure: the model was not judged
    status = EXIT_INFRA if proc.timed_out or proc.returncode is None else proc.returncode
    tail = read_tail(log, 4000).strip().splitlines()[-6:]
    if proc.timed_out:
        tail.append(f"timed out after {timeout:g} s (--timeout)")
    val = ValidationRun(board, status, None, str(db), started=started, log=str(log),
                     tail="\n".join(tail))
    with closing(ResultsStore(db)) as store:
        runs = [r for r in store.runs(model_hash=entry.sha256, board=board) if r["id"] > before]
        if runs:
            row = runs[-1]
            val.run_id = int(row["id"])
            val.figures = run_figures(store, val.run_id)
            val.failures = [
                {"nodeid": r["nodeid"], "outcome": r["outcome"], "category": r["category"],
                 "message": r["message"]}
                for r in store.results(val.run_id) if r["outcome"] in ("failed", "error")
            ]
            val.device = {k: row[k] for k in ("image_hash", "fw_version", "tflm_version",
                                              "core_version", "simulated")}
    return val
