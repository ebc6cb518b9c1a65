"""The package as a wheel carries everything it reads (the applications' data, the templates,
the example model), finds nothing through the checkout, and its HIL suite collects from it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from .conftest import REPO

DATA_SUFFIXES = (".toml", ".j2", ".npz")
# where harness/ may look beside itself: only paths.py (the firmware, the example, the checkout)
CHECKOUT_LOOKUP = re.compile(r"PACKAGE_DIR\.parent|REPO_ROOT|parents\[")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "hatchling", "build", "-t", "wheel", "-d", str(out)],
        cwd=REPO, check=True, capture_output=True, text=True, timeout=300,
    )
    (built,) = out.glob("tflm_hil-*.whl")
    return built


def tracked(folder: str) -> list[str]:
    out = subprocess.run(["git", "ls-files", folder], cwd=REPO, capture_output=True, text=True,
                         check=True).stdout
    return out.split()


def test_the_wheel_carries_the_data_templates_and_example(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    data = [p for p in tracked("harness") if p.endswith(DATA_SUFFIXES)]
    assert any(p.endswith(".j2") for p in data) and "harness/apps/matrix/axes.toml" in data
    assert [p for p in data if p not in names] == []
    example = [p.replace("fixtures/digits/", "harness/_examples/digits/")
               for p in tracked("fixtures/digits")]
    assert "harness/_examples/digits/digits_int8.tflite" in example
    assert [p for p in example if p not in names] == []
    assert "harness/suite/test_validation.py" in names


def test_only_paths_looks_beside_the_package():
    found = sorted(
        str(p.relative_to(REPO)) for p in (REPO / "harness").rglob("*.py")
        if CHECKOUT_LOOKUP.search(p.read_text(encoding="utf-8"))
    )
    assert found == ["harness/paths.py"]


def test_the_suite_collects_from_the_wheel(wheel, tmp_path):
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    env = {**os.environ, "PYTHONPATH": str(site)}
    env.pop("PYTEST_ADDOPTS", None)
    where = subprocess.run(
        [sys.executable, "-c", "import harness.suite, harness.paths as p; "
         "print(harness.suite.__file__); print(p.example_dir()); print(p.checkout_root())"],
        cwd=tmp_path, env=env, capture_output=True, text=True, check=True,
    ).stdout.split("\n")
    assert where[:3] == [str(site / "harness" / "suite" / "__init__.py"),
                         str(site / "harness" / "_examples" / "digits"), "None"]
    model = site / "harness" / "_examples" / "digits" / "digits_int8.tflite"
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "--pyargs", "harness.suite", "--collect-only", "-q",
         "-p", "no:cacheprovider", "-p", "no:randomly", "--model", str(model)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    ids = [ln for ln in run.stdout.splitlines() if "::" in ln]
    assert len(ids) >= 15, run.stdout[-3000:]
    assert any("test_validation.py::test_gate[vectors_differing_vs_host]" in i for i in ids)
