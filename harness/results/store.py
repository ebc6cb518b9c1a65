"""SQLite results store. Each row is committed when its test ends, so a killed run keeps every
result that finished; WAL mode lets a report read while a run writes."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..provenance import Figure, Provenance

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    started REAL NOT NULL,
    finished REAL,
    host TEXT, argv TEXT, harness_version TEXT,
    board TEXT, simulated INTEGER,
    model_path TEXT, model_hash TEXT, image_hash TEXT,
    fw_version TEXT, tflm_version TEXT, core_version TEXT,
    exit_status INTEGER,
    labels TEXT DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS results (
    id INTEGER PRIMARY KEY,
    run_id INTEGER NOT NULL REFERENCES runs(id),
    nodeid TEXT NOT NULL,
    outcome TEXT NOT NULL,          -- passed, failed, skipped, error
    category TEXT,                  -- failure category (harness.errors), NULL for a pass
    message TEXT,
    duration REAL,
    finished REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS metrics (
    id INTEGER PRIMARY KEY,
    run_id INTEGER NOT NULL REFERENCES runs(id),
    nodeid TEXT,
    name TEXT NOT NULL,
    value REAL NOT NULL,
    unit TEXT DEFAULT '',
    provenance TEXT DEFAULT 'measured',  -- measured (a board), emulated (QEMU), estimated (twin)
    recorded REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS metrics_by_name ON metrics(name, run_id);
CREATE INDEX IF NOT EXISTS runs_by_model ON runs(model_hash, board);
"""
# Stores written before figures carried a provenance had a flag: 1 for the twin's estimates.
MIGRATE_ESTIMATED = """
ALTER TABLE metrics ADD COLUMN provenance TEXT DEFAULT 'measured';
UPDATE metrics SET provenance = CASE estimated WHEN 1 THEN 'estimated' ELSE 'measured' END;
"""


WAL_WAIT_S = 30.0


def _set_wal(db: sqlite3.Connection) -> None:
    """WAL mode, waiting for the store's other writers: SQLite answers "database is locked" at
    once, without its busy timeout, when another connection switches a new store to WAL at
    the same moment (pytest -n: every worker opens the store as it starts)."""
    deadline = time.monotonic() + WAL_WAIT_S
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def default_db_path(root: Path) -> Path:
    env = os.environ.get("TFLM_HIL_DB")
    return Path(env) if env else root / ".tflm-hil" / "results.sqlite"


@dataclass(frozen=True)
class Metric:
    run_id: int
    nodeid: str | None
    name: str
    value: float
    unit: str
    provenance: Provenance
    recorded: float


class ResultsStore:
    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(str(path), timeout=30, isolation_level=None)
        self.db.row_factory = sqlite3.Row
        _set_wal(self.db)
        self.db.executescript(SCHEMA)
        columns = {r["name"] for r in self.db.execute("PRAGMA table_info(metrics)")}
        if "provenance" not in columns:
            self.db.executescript(f"BEGIN; {MIGRATE_ESTIMATED} COMMIT;")

    def close(self) -> None:
        self.db.close()

    # ---- writing ----

    def start_run(
        self,
        *,
        board: str,
        simulated: bool,
        model_path: str,
        model_hash: str,
        labels: dict[str, str] | None = None,
        argv: list[str] | None = None,
    ) -> int:
        from .. import __version__

        cur = self.db.execute(
            "INSERT INTO runs (started, host, argv, harness_version, board, simulated, model_path,"
            " model_hash, labels) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                time.time(),
                socket.gethostname(),
                json.dumps(argv if argv is not None else sys.argv),
                __version__,
                board,
                int(simulated),
                model_path,
                model_hash,
                json.dumps(labels or {}),
            ),
        )
        assert cur.lastrowid is not None
        return cur.lastrowid

    def set_device(
        self, run_id: int, *, image_hash: str, fw_version: str, tflm_version: str, core_version: str
    ) -> None:
        self.db.execute(
            "UPDATE runs SET image_hash=?, fw_version=?, tflm_version=?, core_version=? WHERE id=?",
            (image_hash, fw_version, tflm_version, core_version, run_id),
        )

    def add_result(
        self,
        run_id: int,
        nodeid: str,
        outcome: str,
        *,
        category: str | None = None,
        message: str = "",
        duration: float = 0.0,
    ) -> None:
        self.db.execute(
            "INSERT INTO results (run_id, nodeid, outcome, category, message, duration, finished)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (run_id, nodeid, outcome, category, message[:2000], duration, time.time()),
        )

    def add_metric(
        self,
        run_id: int,
        name: str,
        value: float,
        *,
        nodeid: str | None = None,
        unit: str = "",
        provenance: Provenance = Provenance.MEASURED,
    ) -> None:
        self.db.execute(
            "INSERT INTO metrics (run_id, nodeid, name, value, unit, provenance, recorded)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (run_id, nodeid, name, float(value), unit, str(Provenance(provenance)), time.time()),
        )

    def finish_run(self, run_id: int, exit_status: int) -> None:
        self.db.execute(
            "UPDATE runs SET finished=?, exit_status=? WHERE id=?",
            (time.time(), exit_status, run_id),
        )

    # ---- reading ----

    def runs(self, *, model_hash: str | None = None, board: str | None = None) -> list[sqlite3.Row]:
        query, args = "SELECT * FROM runs WHERE 1=1", list[object]()
        if model_hash:
            query += " AND model_hash LIKE ?"
            args.append(model_hash + "%")
        if board:
            query += " AND board = ?"
            args.append(board)
        return list(self.db.execute(query + " ORDER BY id", args))

    def results(self, run_id: int) -> list[sqlite3.Row]:
        return list(self.db.execute("SELECT * FROM results WHERE run_id=? ORDER BY id", (run_id,)))

    def metrics(self, run_id: int | None = None, name: str | None = None) -> Iterator[Metric]:
        query, args = "SELECT * FROM metrics WHERE 1=1", list[object]()
        if run_id is not None:
            query += " AND run_id = ?"
            args.append(run_id)
        if name is not None:
            query += " AND name = ?"
            args.append(name)
        for r in self.db.execute(query + " ORDER BY id", args):
            yield Metric(
                r["run_id"],
                r["nodeid"],
                r["name"],
                r["value"],
                r["unit"],
                Provenance(r["provenance"] or Provenance.MEASURED),
                r["recorded"],
            )


def run_figures(store: ResultsStore, run_id: int) -> dict[str, Figure]:
    """Every figure of a run by name (a name recorded twice keeps its last value)."""
    return {m.name: Figure(m.value, m.unit, m.provenance) for m in store.metrics(run_id=run_id)}
