"""A tflite-micro version the axes file does not list: an import failure with a known cause
(a build against NumPy 1.x) is retried with the pin that cures it, so the cell is classified
as the same version listed with that pin is, and says which pins were applied. ``install``
remains for a version no environment imports. (Environments are stood in for by interpreters
that fail the probe the way such a build does, unless the environment has the pin.)"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from harness.apps.matrix import cell as cell_module
from harness.apps.matrix.axes import Runtime
from harness.apps.matrix.cell import run_sim_cell
from harness.apps.matrix.runtime_pins import next_fix
from harness.apps.matrix.venvs import EnvResult, EnvSpec

from .test_matrix_cell import MODEL, axes, fake_python, places  # noqa: F401 - fixtures

NUMPY1 = (
    "A module that was compiled using NumPy 1.x cannot be run in NumPy 2.x as it may crash. "
    "To support both 1.x and 2.x versions of NumPy, modules must be compiled with NumPy 2.0."
)
UNLISTED = Runtime(id="tflm202403150000", version="0.dev20240315000000")


@pytest.fixture
def environments(tmp_path, monkeypatch) -> list[tuple[str, ...]]:
    """Every environment asked for: it imports the runtime only with numpy<2 (or never)."""
    asked: list[tuple[str, ...]] = []
    numpy1 = fake_python(tmp_path / "n1", f"echo '{NUMPY1}' >&2; exit 1")
    broken = fake_python(tmp_path / "bad", "echo 'undefined symbol: _ZN6tflite3Foo' >&2; exit 1")
    good = fake_python(tmp_path / "good", ":")

    def ensure_env(spec: EnvSpec, root: Path) -> EnvResult:
        asked.append(spec.requirements)
        python = good if "numpy<2" in spec.requirements else numpy1
        if "broken" in spec.name:
            python = broken
        return EnvResult(python, tmp_path / f"{spec.name}.log", "")

    monkeypatch.setattr(cell_module, "ensure_env", ensure_env)
    return asked


@pytest.fixture(autouse=True)
def _dirs(tmp_path):
    for d in ("n1", "bad", "good"):
        (tmp_path / d).mkdir()


def _cell(axes, places, runtime: Runtime, out: Path):  # noqa: F811 - fixture names
    return run_sim_cell(axes, axes.model(MODEL), runtime, axes.converter("prebuilt"), out, places)


def test_unlisted_version_is_classified_as_the_listed_one_with_its_pins(
    axes,  # noqa: F811
    places,  # noqa: F811
    environments,
    tmp_path,
):
    listed = replace(UNLISTED, id="tflm2403", pins=("numpy<2",))
    with_pins = _cell(axes, places, listed, tmp_path / "listed.json")
    unlisted = _cell(axes, places, UNLISTED, tmp_path / "unlisted.json")
    verdict = (with_pins.status, with_pins.stage, with_pins.category, with_pins.gate)
    assert (unlisted.status, unlisted.stage, unlisted.category, unlisted.gate) == verdict
    assert with_pins.status == "pass", with_pins.error
    assert unlisted.details["pins"] == with_pins.details["pins"] == ["numpy<2"]
    assert "built against NumPy 1.x; again with numpy<2" in unlisted.details["retries"][0]
    assert "retries" not in with_pins.details
    # the first environment had no pin, the second the cure
    assert [("numpy<2" in reqs) for reqs in environments] == [True, False, True]


def test_a_version_no_environment_imports_is_install_naming_the_pins_tried(
    axes,  # noqa: F811
    places,  # noqa: F811
    environments,
    tmp_path,
):
    broken = replace(UNLISTED, id="broken")
    result = _cell(axes, places, broken, tmp_path / "cell.json")
    assert (result.status, result.stage, result.category) == ("install", "probe", "import")
    assert "undefined symbol" in result.error
    assert result.details["pins"] == []  # no known cure for this failure: none applied


def test_next_fix_takes_each_known_cure_once():
    assert next_fix(NUMPY1, []).pin == "numpy<2"
    assert next_fix("_ARRAY_API not found", ["numpy<2"]) is None
    assert next_fix("No module named 'pkg_resources'", ["numpy<2"]).pin == "setuptools<81"
    assert next_fix("ModuleNotFoundError: No module named 'tflite_micro'", []) is None
