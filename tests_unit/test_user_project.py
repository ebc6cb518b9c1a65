"""The plugin in a user's own project: a folder outside the repository with no ini file, the
user's own test beside the packaged suite, and nothing but ``pytest --model M`` (with the
example's vectors and reference, as ``./dev hil`` takes them from the repository's ini)."""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

from .conftest import DIGITS_KERAS, DIGITS_MODEL, DIGITS_VECTORS, REPO


def example(tmp: Path) -> list[str]:
    """The example model's options, its files copied out of the repository: beside them,
    pytest would find the repository's ini (pytest#8846, the next test)."""
    models = tmp / "models"
    models.mkdir(exist_ok=True)
    for f in (DIGITS_MODEL, DIGITS_VECTORS, DIGITS_KERAS):
        shutil.copy(f, models / f.name)
    return ["--model", str(models / DIGITS_MODEL.name), "--vectors",
            str(models / DIGITS_VECTORS.name), "--reference", str(models / DIGITS_KERAS.name)]

USER_TEST = '''
def test_the_device_holds_the_model(dut, hil_model):
    """A user's own check, with the plugin's fixtures."""
    assert dut.info.model_hash == hil_model.sha256
'''


def with_equals(args: list[str]) -> list[str]:
    """``--opt VALUE`` pairs as ``--opt=VALUE``."""
    return [f"{a}={v}" for a, v in zip(args[::2], args[1::2], strict=True)]


def pytest_in(folder: Path, *args: str, cache: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "TFLM_HIL_CACHE": str(cache)}
    for var in ("TFLM_HIL_DB", "PYTEST_ADDOPTS"):
        env.pop(var, None)
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:randomly", *args]
    return subprocess.run(cmd, cwd=folder, env=env, capture_output=True, text=True, timeout=600)


def ids(out: str) -> set[str]:
    """The node ids of ``--collect-only -q``, without the folder before the suite's files."""
    return {re.sub(r"^.*/(test_\w+\.py::)", r"\1", ln) for ln in out.splitlines() if "::" in ln}


def test_a_project_runs_the_packaged_suite_and_its_own_tests(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    (project / "test_mine.py").write_text(USER_TEST)
    cache = tmp_path / "cache"
    example_args = example(tmp_path)

    listed = pytest_in(project, "--collect-only", "-q", *example_args, cache=cache)
    assert listed.returncode == 0, listed.stdout[-3000:] + listed.stderr[-3000:]
    repo = pytest_in(REPO, "tests_hil", "--collect-only", "-q", *example_args, cache=cache)
    assert repo.returncode == 0, repo.stdout[-3000:]
    suite = ids(repo.stdout)
    assert len(suite) >= 15
    # every check of the repository's suite, and the user's own test beside them
    assert ids(listed.stdout) == suite | {"test_mine.py::test_the_device_holds_the_model"}

    run = pytest_in(project, *example_args, cache=cache)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert re.search(rf"\b{len(suite) + 1} passed\b", run.stdout), run.stdout[-2000:]
    assert "the packaged HIL suite (harness.suite" in run.stdout
    # the results under the project, none beside the model (pytest's rootdir would be there)
    with sqlite3.connect(project / ".tflm-hil" / "results.sqlite") as db:
        assert db.execute("SELECT COUNT(*) FROM runs WHERE exit_status = 0").fetchone() == (1,)
    assert not (tmp_path / "models" / ".tflm-hil").exists()


def test_the_packaged_checks_are_selected_as_any_test(tmp_path):
    """-k, -m and --deselect (with the ids pytest prints) pick among the packaged checks; naming
    a path runs that path alone; the ini can turn the suite off."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "test_mine.py").write_text(USER_TEST)
    cache = tmp_path / "cache"
    example_args = example(tmp_path)

    def collected(*args: str) -> set[str]:
        out = pytest_in(project, "--collect-only", "-q", *example_args, *args, cache=cache)
        assert out.returncode in (0, 5), out.stdout[-3000:] + out.stderr[-3000:]
        return ids(out.stdout)

    everything = collected()
    latency = {i for i in everything if i.startswith("test_benchmark.py::test_latency[")}
    assert len(latency) == 1
    assert collected("-k", "latency") == latency
    assert collected("--deselect", "test_benchmark.py::test_latency") == everything - latency
    unmarked = collected("-m", "not hil")  # the suite's device checks carry the hil mark
    assert "test_mine.py::test_the_device_holds_the_model" in unmarked
    assert latency.isdisjoint(unmarked) and len(unmarked) < len(everything)
    assert collected("test_mine.py") == {"test_mine.py::test_the_device_holds_the_model"}
    # the project's ini turns the suite off (read with --model=PATH: pytest#8846)
    (project / "pytest.ini").write_text("[pytest]\nhil_suite = false\n")
    example_args[:] = with_equals(example_args)
    assert collected() == {"test_mine.py::test_the_device_holds_the_model"}


def test_a_run_configured_from_the_models_path_says_so(tmp_path):
    """pytest takes its rootdir and ini from --model's value when no test path is named
    (pytest#8846): an ini above the model configures the run, the project's is not read. The
    run says which, and that --model=PATH avoids it."""
    project = tmp_path / "project"
    project.mkdir()
    args = example(tmp_path)
    (tmp_path / "models" / "pytest.ini").write_text("[pytest]\nhil_suite = false\n")
    (project / "pytest.ini").write_text("[pytest]\n")
    out = pytest_in(project, "--collect-only", *args, cache=tmp_path / "cache")
    assert out.returncode == 5, out.stdout[-3000:]  # the model's ini turned the suite off
    assert (f"pytest configured this run from {tmp_path / 'models' / 'pytest.ini'}, found "
            "from the paths of the options (--model PATH); give the paths with '=' "
            "(--model=PATH, --vectors=PATH, ...)") in out.stdout
    (tmp_path / "models" / "pytest.ini").unlink()
    out = pytest_in(project, "--collect-only", *args, cache=tmp_path / "cache")
    assert f"pytest did not read {project / 'pytest.ini'}" in out.stdout, out.stdout[-3000:]
    # with '=', the values are no paths to pytest: this folder configures the run
    out = pytest_in(project, "--collect-only", *with_equals(args), cache=tmp_path / "cache")
    assert out.returncode == 0 and "tflm-hil: WARNING" not in out.stdout, out.stdout[-3000:]
    assert "configfile: pytest.ini" in out.stdout and "test_gate[" in out.stdout
