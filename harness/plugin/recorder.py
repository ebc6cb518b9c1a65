"""Puts the session into the results store as it happens: a killed run keeps what finished."""

from __future__ import annotations

from pathlib import Path

import pytest

from ..provenance import Provenance
from ..results.store import ResultsStore, default_db_path
from .badinput import refused
from .config import project_dir

_recorder = pytest.StashKey["RunRecorder | None"]()


class RunRecorder:
    def __init__(self, store: ResultsStore):
        self.store = store
        self.run_id: int | None = None

    def metric(
        self,
        name: str,
        value: float,
        *,
        nodeid: str | None = None,
        unit: str = "",
        provenance: Provenance = Provenance.MEASURED,
    ) -> None:
        if self.run_id is not None:
            self.store.add_metric(
                self.run_id, name, value, nodeid=nodeid, unit=unit, provenance=provenance
            )

    # ---- a pytest plugin object: it knows the session's config in its hooks ----

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if self.run_id is None:
            return
        if report.when == "call" or (report.when == "setup" and not report.passed):
            outcome = "error" if report.when == "setup" and report.failed else report.outcome
            category = dict(report.user_properties).get("failure_category")
            self.store.add_result(
                self.run_id,
                report.nodeid,
                outcome,
                category=str(category) if category else None,
                message=failure_message(report),
                duration=report.duration,
            )

    @pytest.hookimpl(trylast=True)  # after the plugin settled the exit status
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.run_id is not None and refused(session.config):
            self.store.discard_run(self.run_id)  # bad input says nothing of the model
        elif self.run_id is not None:
            self.store.finish_run(self.run_id, int(session.exitstatus))
        self.store.close()


def failure_message(report: pytest.TestReport) -> str:
    """The assertion or exception message (not the traceback's file:line), or the skip reason."""
    crash = getattr(report.longrepr, "reprcrash", None)
    message = getattr(crash, "message", None)
    if message:
        return str(message)
    if report.skipped and isinstance(report.longrepr, tuple):
        return str(report.longrepr[2])
    text = report.longreprtext.strip() if report.failed else ""
    return text.splitlines()[-1] if text else ""


def recorder(config: pytest.Config) -> RunRecorder | None:
    """The session's recorder, opened on first use (unit-test sessions never create a store)."""
    if _recorder not in config.stash:
        value = config.option.hil_db
        rec = None
        if value != "none":
            path = Path(value) if value else default_db_path(project_dir(config))
            rec = RunRecorder(ResultsStore(path))
            config.pluginmanager.register(rec, "tflm-hil-recorder")
        config.stash[_recorder] = rec
    return config.stash[_recorder]
