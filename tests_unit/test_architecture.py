"""The layers of harness/, checked with import-linter (the contracts are in pyproject.toml): an
import that runs upward or closes a cycle between parts fails, whether it sits at module level,
inside a function or under TYPE_CHECKING.

Issue 10's restructuring listed the imports that still broke a contract (``ignore_imports``)
and each step deleted its lines; none is left, and none may come back.
"""

from __future__ import annotations

import ast
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


def _layer_parts(layers: list[str]) -> list[str]:
    return [part.strip() for layer in layers for part in layer.split("|")]


def _contract(contract_id: str) -> dict[str, Any]:
    return next(c for c in SETTINGS["contracts"] if c["id"] == contract_id)


def test_every_part_of_harness_sits_in_a_layer_once():
    """import-linter checks only the parts a layer names: a new part left out of the layers
    would be free to import anything."""
    package = REPO / "harness"
    parts = {p.stem for p in package.iterdir()
             if (p.suffix == ".py" and p.stem not in ("__init__", "__main__"))
             or (p.is_dir() and (p / "__init__.py").exists())}
    layered = _layer_parts(_contract("layers")["layers"])
    assert sorted(layered) == sorted(set(layered)), "a part is named in two layers"
    assert set(layered) == parts


def test_the_architecture_doc_draws_the_layers_of_the_contract():
    """docs/architecture.md matches the code: its drawing lists the layers in the contract's
    order, each with the same parts."""
    doc = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
    drawing = doc.split("```")[1]
    # a layer's parts stand at the start of a drawing line, joined by " | " (a line ending in
    # "|" continues on the next); the rest of the line is its description
    rows: list[str] = []
    pending = ""
    for line in drawing.splitlines():
        head = line[:31].strip()
        if not head or head.startswith("─"):
            continue
        pending += head
        if pending.endswith("|"):
            pending += " "
            continue
        rows.append(" ".join(pending.split()))
        pending = ""
    assert rows == [" ".join(layer.split()) for layer in _contract("layers")["layers"]]


SCREEN = 150  # issue 10: no driver or personality class longer than a screen


def _driver_and_personality_classes() -> list[tuple[str, str, int]]:
    found = []
    for path in sorted((REPO / "harness").rglob("*.py")):
        rel = path.relative_to(REPO).as_posix()
        in_personalities = "/personalities/" in rel or rel.endswith("sim/personality.py")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and (
                    in_personalities or node.name.endswith(("Driver", "Builder", "Flasher"))
                    or node.name in ("TwinHost", "Dut")):
                assert node.end_lineno is not None
                found.append((rel, node.name, node.end_lineno - node.lineno + 1))
    return found


def test_no_driver_or_personality_class_is_longer_than_a_screen():
    classes = _driver_and_personality_classes()
    names = {name for _, name, _ in classes}
    assert {"BoardDriver", "PioDriver", "SimDriver", "QemuDriver", "TwinHost"} <= names
    long = [f"{rel}: {name} has {n} lines" for rel, name, n in classes if n > SCREEN]
    assert long == [], "split the class (docs/architecture.md)"
