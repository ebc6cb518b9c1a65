"""The layers of harness/, checked with import-linter (the contracts are in pyproject.toml): an
import that runs upward or closes a cycle between parts fails, whether it sits at module level,
inside a function or under TYPE_CHECKING.

While issue 10's restructuring goes on, each contract lists the imports that still break it
(``ignore_imports``). The ratchet: every listed import must still be needed, so the step that
removes one must delete its line. ``pytest tests_unit/test_architecture.py -v`` shows the
lines that remain, one test each.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from .conftest import REPO

PYPROJECT = REPO / "pyproject.toml"
SETTINGS: dict[str, Any] = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))[
    "tool"]["importlinter"]
IGNORED = [(c, line) for c in SETTINGS["contracts"] for line in c.get("ignore_imports", [])]
# import-linter in a process of its own: run in this one after TensorFlow had, its console
# output closed pytest's capture file and the whole session was lost
LINT = "from importlinter.cli import lint_imports_command; lint_imports_command()"


def lint(config: Path, cwd: Path = REPO, pythonpath: Path | None = None
         ) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}  # one contract a line in its report
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)  # ahead of the installed package
    return subprocess.run([sys.executable, "-c", LINT, "--no-cache", "--no-logo", str(config)],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def test_imports_keep_the_layers():
    run = lint(PYPROJECT)
    assert run.returncode == 0, run.stdout + run.stderr


@pytest.mark.parametrize(("contract", "ignored"), IGNORED,
                         ids=[f"{c['id']}: {line}" for c, line in IGNORED])
def test_each_ignored_import_still_breaks_its_contract(contract, ignored, tmp_path):
    """The contract without this one line is broken; once it is not, delete the line from
    pyproject.toml (a listed import that is gone altogether fails the test above)."""
    without = {**contract, "ignore_imports": [i for i in contract["ignore_imports"]
                                              if i != ignored],
               "unmatched_ignore_imports_alerting": "none"}  # that is the test above's job
    config = tmp_path / "one_contract.toml"
    config.write_text(_toml({"root_package": SETTINGS["root_package"]}, without))
    run = lint(config)
    assert run.returncode == 1 and "BROKEN" in run.stdout, (
        f"{ignored!r} no longer breaks contract {contract['id']!r}: delete it from its "
        "ignore_imports in pyproject.toml\n" + run.stdout + run.stderr)


def test_an_import_inside_a_function_that_runs_upward_is_caught(tmp_path):
    """A copy of the package with one upward import planted inside a function (the kind that
    closed issue 10's cycles) breaks the layers and the acyclic contracts."""
    shutil.copytree(REPO / "harness", tmp_path / "harness",
                    ignore=shutil.ignore_patterns("__pycache__", "_firmware"))
    planted = tmp_path / "harness" / "tflite" / "quant.py"
    planted.write_text(planted.read_text() + "\n\ndef _planted():\n"
                       "    from ..plugin import hooks  # noqa: F401\n")
    run = lint(PYPROJECT, cwd=tmp_path, pythonpath=tmp_path)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "harness.tflite.quant -> harness.plugin.hooks" in run.stdout
    assert "No cycle between sibling modules anywhere in harness BROKEN" in run.stdout


def _toml(session: dict[str, Any], contract: dict[str, Any]) -> str:
    """A one-contract import-linter configuration (strings and lists of strings only)."""
    def value(v: Any) -> str:
        return "[" + ", ".join(value(x) for x in v) + "]" if isinstance(v, list) else f'"{v}"'

    lines = ["[tool.importlinter]", *(f"{k} = {value(v)}" for k, v in session.items()),
             "", "[[tool.importlinter.contracts]]",
             *(f"{k} = {value(v)}" for k, v in contract.items())]
    return "\n".join(lines) + "\n"
