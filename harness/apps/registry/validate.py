"""Validation: the HIL suite run on a board for a registered model, as a subprocess.

The model's files are exported from the registry (hash-checked) and the suite runs as a
user runs it: ``python -m pytest tests_hil --model ... --vectors ... --reference ...
--board B --hil-db DB``. Its run in the results store (found by model hash, board and a
run id newer than before) is linked to the registry entry with its figures.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...boards.catalog import resolve_board
from ...errors import EXIT_INFRA, ConfigError
from ...paths import PACKAGE_DIR
from ...provenance import Figure
from ...results.store import ResultsStore, default_db_path
from .gates import run_figures
from .store import ModelEntry, Registry, board_dir_name

SUITE_ENV = "TFLM_HIL_SUITE"
# The suite's exit status: pytest's, plus the plugin's EXIT_INFRA (the rig failed, the model
# was not judged).
EXIT_MEANING = {0: "passed", 1: "tests failed", 2: "interrupted", 3: "internal error",
                4: "bad configuration", 5: "no tests ran", EXIT_INFRA: "infrastructure failure"}


@dataclass
class Validation:
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
    def from_dict(cls, d: dict[str, Any]) -> Validation:
        return cls(d["board"], int(d["exit_status"]), d.get("run_id"), d.get("db", ""),
                   {k: Figure.from_dict(v) for k, v in d.get("figures", {}).items()},
                   list(d.get("failures", [])), float(d.get("started", 0.0)),
                   d.get("log", ""), dict(d.get("device", {})))


def suite_dir() -> Path:
    env = os.environ.get(SUITE_ENV)
    for candidate in ([Path(env)] if env else []) + [PACKAGE_DIR.parent / "tests_hil",
                                                     Path.cwd() / "tests_hil"]:
        if candidate.is_dir():
            return candidate
    raise ConfigError("no HIL suite (tests_hil) found: run from the tflm-hil checkout or set "
                      f"${SUITE_ENV} to the suite's folder")


def db_path(db: str | os.PathLike[str] | None) -> Path:
    return Path(db) if db else default_db_path(Path.cwd())


def run_suite(registry: Registry, entry: ModelEntry, board: str, db: Path) -> Validation:
    resolve_board(board)  # an unknown board is a ConfigError naming the known ones
    suite = suite_dir()
    with closing(ResultsStore(db)) as store:
        before = max((r["id"] for r in store.runs()), default=0)
    log_dir = registry.root / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    started = time.time()
    log = log_dir / f"{entry.short}-{board_dir_name(board)}-{int(started)}.log"
    with tempfile.TemporaryDirectory(prefix="tflm-hil-validate-") as tmp:
        files = registry.export(entry, Path(tmp), stem=entry.short)
        cmd = [sys.executable, "-m", "pytest", str(suite), "--model", str(files["model"]),
               "--board", board, "--hil-db", str(db), "--hil-log-dir", str(log_dir),
               "-p", "no:cacheprovider", "-p", "no:randomly", "-q"]  # reasons in test order
        if "vectors" in files:
            cmd += ["--vectors", str(files["vectors"])]
        if "reference" in files:
            cmd += ["--reference", str(files["reference"])]
        proc = subprocess.run(cmd, cwd=suite.parent, capture_output=True, text=True)
    log.write_text(f"$ {' '.join(cmd)}\n{proc.stdout}\n{proc.stderr}", encoding="utf-8")
    val = Validation(board, proc.returncode, None, str(db), started=started, log=str(log),
                     tail="\n".join((proc.stdout + proc.stderr).strip().splitlines()[-6:]))
    with closing(ResultsStore(db)) as store:
        runs = [r for r in store.runs(model_hash=entry.sha256, board=board) if r["id"] > before]
        if runs:
            run = runs[-1]
            val.run_id = int(run["id"])
            val.figures = run_figures(store, val.run_id)
            val.failures = [
                {"nodeid": r["nodeid"], "outcome": r["outcome"], "category": r["category"],
                 "message": r["message"]}
                for r in store.results(val.run_id) if r["outcome"] in ("failed", "error")
            ]
            val.device = {k: run[k] for k in ("image_hash", "fw_version", "tflm_version",
                                              "core_version", "simulated")}
    return val
