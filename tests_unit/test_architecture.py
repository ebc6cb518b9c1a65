"""The layers of harness/, checked with import-linter (the contracts are in pyproject.toml): an
import that runs upward or closes a cycle between parts fails, whether it sits at module level,
inside a function or under TYPE_CHECKING.

Issue 10's restructuring listed the imports that still broke a contract (``ignore_imports``)
and each step deleted its lines; none is left, and none may come back.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

from .conftest import REPO

PYPROJECT = REPO / "pyproject.toml"
SETTINGS: dict[str, Any] = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))[
    "tool"]["importlinter"]
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


def test_no_import_is_exempt_from_a_contract():
    exempt = {c["id"]: c["ignore_imports"] for c in SETTINGS["contracts"]
              if c.get("ignore_imports")}
    assert exempt == {}, "fix the imports instead of listing them in ignore_imports"


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
