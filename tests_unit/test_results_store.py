"""The results store opened by several processes at once (pytest -n: each worker opens it as
it starts): the switch of a new store to WAL mode, which SQLite refuses at once ("database is
locked", no busy timeout) while another connection makes the same switch, is waited for.
(Measured with three processes opening a new store at one barrier: 7 stores of 150 refused
an opener before the wait, none of 150 after.)"""

from __future__ import annotations

import sqlite3

import pytest

from harness.results import store as store_module
from harness.results.store import ResultsStore


class _SwitchRefused(sqlite3.Connection):
    """A connection whose switches to WAL meet another writer switching (``refusals`` times)
    or fail another way (``error``)."""

    refusals = 1
    error = "database is locked"
    refused = 0

    def execute(self, sql: str, *args):  # type: ignore[override]
        if sql.startswith("PRAGMA journal_mode") and _SwitchRefused.refused < self.refusals:
            _SwitchRefused.refused += 1
            raise sqlite3.OperationalError(self.error)
        return super().execute(sql, *args)


@pytest.fixture
def refused(monkeypatch) -> type[_SwitchRefused]:
    connect = sqlite3.connect
    monkeypatch.setattr(
        store_module.sqlite3, "connect", lambda *a, **k: connect(*a, factory=_SwitchRefused, **k)
    )
    monkeypatch.setattr(_SwitchRefused, "refused", 0)
    return _SwitchRefused


def test_a_store_whose_wal_switch_is_refused_opens_after_waiting(tmp_path, refused, monkeypatch):
    monkeypatch.setattr(refused, "refusals", 3)
    store = ResultsStore(tmp_path / "r.sqlite")
    run = store.start_run(board="sim:nano33", simulated=True, model_path="m", model_hash="h")
    mode = store.db.execute("PRAGMA journal_mode").fetchone()[0]
    store.close()
    assert refused.refused == 3 and run == 1 and mode == "wal"


def test_other_errors_of_the_switch_are_not_waited_for(tmp_path, refused, monkeypatch):
    monkeypatch.setattr(refused, "error", "disk I/O error")
    with pytest.raises(sqlite3.OperationalError, match="disk I/O"):
        ResultsStore(tmp_path / "r.sqlite")
    assert refused.refused == 1


def test_a_switch_refused_for_longer_than_the_wait_fails(tmp_path, refused, monkeypatch):
    monkeypatch.setattr(refused, "refusals", 10**6)
    monkeypatch.setattr(store_module, "WAL_WAIT_S", 0.2)
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        ResultsStore(tmp_path / "r.sqlite")
