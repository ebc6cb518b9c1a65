"""The one way the harness runs the HIL suite in a child process: the registry's validation, the
matrix's cells and the unit tests all call ``run_suite``.

The suite is the package ``harness.suite``, collected with ``pytest --pyargs harness.suite``,
which finds it in a checkout (editable install) and in an installed wheel alike. The child
runs in its own process group with a time limit (``harness.proc``): a timeout kills pytest
and whatever it started (the twin, QEMU), and its output goes to a log file, never lost.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ..proc import ProcessRun, run_child

SUITE_PACKAGE = "harness.suite"


def suite_target() -> list[str]:
    """The pytest arguments that name the packaged HIL suite."""
    return ["--pyargs", SUITE_PACKAGE]


@dataclass(frozen=True)
class SuiteRun:
    """One run of the suite: its board, its model's files and where its records go."""

    board: str | None = None  # None: the plugin's default (sim:nano33)
    model: Path | None = None  # None: the ini's hil_model (the example model in a checkout)
    vectors: Path | None = None
    reference: Path | None = None
    db: Path | None = None
    log_dir: Path | None = None
    junit: Path | None = None
    extra: tuple[str, ...] = ()  # more pytest arguments (--benchmark-*, -k, --deselect)
    target: tuple[str, ...] = ()  # what pytest collects (default: the packaged suite)
    python: Path = Path(sys.executable)
    # the suite's own order (pytest-randomly off where installed): a refusal or a cell names
    # the first failing test, which must not change from run to run
    in_order: bool = True

    def command(self) -> list[str]:
        cmd = [str(self.python), "-m", "pytest", *(self.target or suite_target()), "-q"]
        cmd += ["-p", "no:cacheprovider", *(["-p", "no:randomly"] if self.in_order else [])]
        for flag, value in (("--board", self.board), ("--model", self.model),
                            ("--vectors", self.vectors), ("--reference", self.reference),
                            ("--hil-db", self.db), ("--hil-log-dir", self.log_dir)):
            if value is not None:
                cmd += [flag, str(value)]
        if self.junit is not None:  # legacy (xunit1) keeps the recorded figures as properties
            cmd += ["--junitxml", str(self.junit), "-o", "junit_family=legacy"]
        return [*cmd, *self.extra]


def suite_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This environment for the child, with tracebacks of native crashes on, TensorFlow's
    start-up chatter off, and the caller's PYTEST_ADDOPTS dropped (the run's options are its
    own)."""
    env = {**os.environ, "PYTHONFAULTHANDLER": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}
    env.pop("PYTEST_ADDOPTS", None)
    env.update(extra or {})
    return env


def run_suite(
    run: SuiteRun,
    *,
    log: Path,
    timeout: float,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> ProcessRun:
    """Runs the suite; its whole output is in ``log`` (appended), the tail in the result."""
    return run_child(run.command(), log=log, timeout=timeout, cwd=cwd, env=suite_env(env))
