"""Matrix cells run for real: one end to end in this environment (its installed tflite-micro),
and the ways a runtime can fail the cell — dying, hanging, the runner itself being killed —
each leaving a classified result."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.apps.matrix.axes import Axes, Converter, Model, load_axes
from harness.apps.matrix.cell import PIN_GATE, Places, installed_tflm, run_sim_cell
from harness.apps.matrix.classify import Verdict
from harness.apps.matrix.cli import main as matrix_main
from harness.apps.matrix.converter import _finish, artifact_dir, convert, load_artifact
from harness.apps.matrix.result import read_result
from harness.errors import ConfigError
from harness.provenance import Provenance

MODEL = "fconly"  # a prebuilt FULLY_CONNECTED model: no TensorFlow needed, seconds to run


@pytest.fixture(scope="module")
def axes() -> Axes:
    return load_axes()


@pytest.fixture(scope="module")
def places(tmp_path_factory) -> Places:
    """A matrix directory with the prebuilt model's artifact made in this interpreter."""
    base = tmp_path_factory.mktemp("matrix")
    places = Places.under(base)
    a = load_axes()
    art = convert(
        a, a.model(MODEL), a.converter("prebuilt"), places.artifacts, python=Path(sys.executable)
    )
    assert art.verdict is None, art.info
    return places


def fake_python(tmp_path: Path, on_probe: str) -> Path:
    """An interpreter that behaves like this one, except for the probe step."""
    script = tmp_path / "python"
    script.write_text(
        "#!/bin/sh\n"
        f'case "$*" in *harness.apps.matrix.probe*) {on_probe} ;; esac\n'
        f'exec "{sys.executable}" "$@"\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return script


def cell_args(axes: Axes):
    runtime = axes.runtime(installed_tflm() or "")
    return axes.model(MODEL), runtime, axes.converter("prebuilt")


def test_real_cell_in_this_environment_passes_end_to_end(axes, places, tmp_path):
    out = tmp_path / "cell.json"
    result = run_sim_cell(axes, *cell_args(axes), out, places)
    on_disk = read_result(out)
    assert on_disk.status == result.status == "pass", result.error
    assert not on_disk.provisional
    assert on_disk.details["probe"]["stage"] == "done"
    assert on_disk.figures["vectors_differing_vs_reference_runtime"] == 0
    assert on_disk.figures["arena_used_bytes"] > 0
    assert on_disk.key_figures()["latency_us"] > 0
    # the twin's latency is a cost model
    assert on_disk.provenance["latency_us_median"] == Provenance.ESTIMATED
    # the row is the runtime, not the board's library: the pin gate is left out
    assert f"--deselect {PIN_GATE}" in Path(on_disk.logs["suite"]).read_text()


def test_runtime_that_segfaults_is_a_crash_cell(axes, places, tmp_path):
    python = fake_python(tmp_path, "kill -SEGV $$")
    out = tmp_path / "cell.json"
    result = run_sim_cell(axes, *cell_args(axes), out, places, python=python)
    assert (result.status, result.stage, result.category) == ("crash", "probe", "SIGSEGV")
    assert read_result(out).status == "crash"


def test_runtime_that_hangs_is_killed_as_a_timeout(axes, places, tmp_path):
    python = fake_python(tmp_path, "exec sleep 60")
    result = run_sim_cell(
        axes, *cell_args(axes), tmp_path / "cell.json", places, python=python, timeout=1.0
    )
    assert (result.status, result.category) == ("timeout", "cell-timeout")


def test_cell_killed_half_way_leaves_a_provisional_timeout(axes, places, tmp_path):
    pidfile = tmp_path / "probe.pid"
    python = fake_python(tmp_path, f'echo $$ > "{pidfile}"; exec sleep 60')
    out = tmp_path / "cell.json"
    model, runtime, converter = cell_args(axes)
    runner = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "harness.cli",
            "matrix",
            "run",
            "--dir",
            str(places.artifacts.parent),
            "--tflm-runtime",
            runtime.version,
            "--converter",
            converter.id,
            "--model",
            model.id,
            "--python",
            str(python),
            "--json",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while not pidfile.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert pidfile.exists(), "the cell never reached its probe"
        runner.kill()  # the runner dies mid-cell, as in a CI job killed from outside
        runner.wait()
    finally:
        if pidfile.exists():
            os.kill(int(pidfile.read_text()), signal.SIGKILL)
    left = json.loads(out.read_text())
    assert (left["status"], left["provisional"], left["category"]) == (
        "timeout",
        True,
        "unfinished",
    )


@pytest.mark.parametrize(
    ("argv", "missing"),
    [
        (["--tflm-ref", "abc"], "missing: --board (a catalog id such as nano33), --arduino-core"),
        (["--board", "nano33", "--arduino-core", "4.5.0"], "missing: --tflm-ref"),
    ],
)
def test_incomplete_hardware_cell_names_what_is_missing(argv, missing):
    with pytest.raises(ConfigError) as info:
        matrix_main(["run", *argv])
    assert missing in str(info.value)


@pytest.mark.parametrize(
    "verdict",
    [
        Verdict("install", "env", error="cannot install tensorflow-cpu==0.0", category="install"),
        Verdict("crash", "convert", gate="", error="LLVM ERROR", category="SIGABRT"),
    ],
)
def test_reused_artifact_gives_the_verdict_of_the_conversion_that_made_it(tmp_path, verdict):
    model, converter = Model(id="m", tflite=tmp_path / "m.tflite"), Converter("c", None)
    d = artifact_dir(tmp_path, model, converter)
    d.mkdir(parents=True)
    made = _finish(d, {"inputs": "x"}, verdict)
    reused = load_artifact(tmp_path, model, converter)
    assert reused is not None and reused.verdict == made.verdict == verdict
