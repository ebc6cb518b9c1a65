"""The one suite runner (harness/plugin/runner.py): the command it gives pytest, and a suite
that hangs, stopped at its time limit with everything it started, recorded by the registry as
an infrastructure failure (the model not judged)."""

from __future__ import annotations

import os
import stat
import sys
import time
from dataclasses import replace
from pathlib import Path

from harness.apps.registry import validate
from harness.apps.registry.store import Registry
from harness.errors import EXIT_INFRA
from harness.plugin import runner
from harness.plugin.runner import SuiteRun

from .conftest import DIGITS_MODEL


def test_the_command_collects_the_packaged_suite_in_its_own_order():
    run = SuiteRun("sim:nano33", Path("m.tflite"), db=Path("r.sqlite"), junit=Path("j.xml"),
                   extra=("-k", "gate"))
    cmd = run.command()
    assert cmd[:5] == [sys.executable, "-m", "pytest", "--pyargs", "harness.suite"]
    assert cmd[cmd.index("--board") + 1] == "sim:nano33"
    assert cmd[cmd.index("--model") + 1] == "m.tflite"
    assert cmd[cmd.index("--hil-db") + 1] == "r.sqlite"
    assert "no:randomly" in cmd and "--vectors" not in cmd and "--reference" not in cmd
    assert cmd[-2:] == ["-k", "gate"]
    assert SuiteRun(target=("tests_hil",)).command()[3] == "tests_hil"
    assert "no:randomly" not in SuiteRun(in_order=False).command()


def hanging_python(tmp_path: Path) -> tuple[Path, Path]:
    """An interpreter that starts a child of its own (as pytest starts the twin), then hangs."""
    pid_file = tmp_path / "grandchild.pid"
    script = tmp_path / "python"
    script.write_text(f"#!/bin/sh\nsleep 300 &\necho $! > {pid_file}\necho collecting\nsleep 300\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return script, pid_file


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a killed process not yet reaped by its parent still answers: read its state
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def test_a_hung_suite_is_stopped_with_what_it_started(tmp_path):
    python, pid_file = hanging_python(tmp_path)
    log = tmp_path / "suite.log"
    start = time.monotonic()
    done = runner.run_suite(SuiteRun(python=python), log=log, timeout=2)
    assert done.timed_out and done.returncode is None
    assert time.monotonic() - start < 60
    assert done.log == log and "collecting" in log.read_text()
    assert log.read_text().startswith(f"$ {python} -m pytest --pyargs harness.suite")
    grandchild = int(pid_file.read_text())
    deadline = time.monotonic() + 10
    while alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(grandchild)


def test_the_registry_records_a_timeout_as_an_infrastructure_failure(tmp_path, monkeypatch):
    python, _ = hanging_python(tmp_path)
    monkeypatch.setattr(validate, "run_suite_child",
                        lambda run, **kw: runner.run_suite(replace(run, python=python), **kw))
    registry = Registry(tmp_path / "registry")
    entry = registry.register_files(DIGITS_MODEL)
    val = validate.run_suite(registry, entry, "sim:nano33", tmp_path / "r.sqlite", timeout=2)
    assert val.exit_status == EXIT_INFRA and not val.passed
    assert val.tail.splitlines()[-1] == "timed out after 2 s (--timeout)"
    assert "collecting" in Path(val.log).read_text()
