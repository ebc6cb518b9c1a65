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
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from harness.apps.matrix.axes import Axes, Converter, Model, load_axes
from harness.apps.matrix.cell import (
    PIN_GATE,
    Places,
    _matrix_gates,
    installed_tflm,
    run_sim_cell,
    runtime_requirements,
)
from harness.apps.matrix.classify import Verdict
from harness.apps.matrix.cli import main as matrix_main
from harness.apps.matrix.compare import compare_outputs, load_outputs, save_outputs
from harness.apps.matrix.converter import Artifact, _finish, artifact_dir, convert, load_artifact
from harness.apps.matrix.result import read_result
from harness.apps.matrix.venvs import STAMP, EnvSpec, harness_source
from harness.errors import ConfigError
from harness.metrics.gates import Gate
from harness.provenance import Provenance

from .conftest import REPO

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
    assert f"-k not {PIN_GATE}" in Path(on_disk.logs["suite"]).read_text()


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


# ---- the verdict against the reference runtime --------------------------------------------


def _figures(differing: float, n: float = 64, steps: float = 3, agree: float = 0.9) -> dict:
    return {
        "vectors_differing_vs_reference_runtime": differing,
        "vectors_vs_reference_runtime": n,
        "max_error_steps_vs_reference_runtime": steps,
        "top1_agreement_vs_reference_runtime": agree,
    }


def test_matrix_gate_degrades_outputs_that_differ_from_the_reference_runtime(axes, tmp_path):
    artifact = Artifact(tmp_path, None, {"golden_runtime": "0.dev20261023182759"})
    verdict = _matrix_gates(axes, _figures(5), artifact)
    assert verdict is not None
    assert (verdict.status, verdict.stage, verdict.category) == (
        "degraded",
        "gate",
        "reference-runtime",
    )
    assert verdict.gate == "vectors_differing_vs_reference_runtime <= 0"
    assert verdict.error.startswith(
        "5 of 64 vectors differ from the reference runtime (tflite-micro 0.dev20261023182759), "
        "by up to 3 quantisation steps; top-1 agreement with it 0.900."
    )


@pytest.mark.parametrize("figures", [_figures(0), {}, {"top1_agreement_vs_float": 0.1}])
def test_matrix_gate_passes_equal_or_unmeasured_outputs(axes, tmp_path, figures):
    """Equal to the reference (the gate's boundary, max = 0, included), or not compared."""
    assert _matrix_gates(axes, figures, Artifact(tmp_path, None, {})) is None


def test_matrix_gate_message_without_the_other_figures(axes, tmp_path):
    verdict = _matrix_gates(
        axes, {"vectors_differing_vs_reference_runtime": 2.0}, Artifact(tmp_path, None, {})
    )
    assert verdict is not None
    assert verdict.error.startswith(
        "2 of 0 vectors differ from the reference runtime (tflite-micro ?), by up to 0 "
        "quantisation steps; top-1 agreement with it 1.000."
    )


def test_every_matrix_gate_is_judged_not_only_the_first(axes, tmp_path):
    gates = (
        Gate("top1_agreement_vs_reference_runtime", 0.5, None, "t"),  # passes
        Gate("max_error_steps_vs_reference_runtime", None, 0.0, "t"),  # fails
    )
    verdict = _matrix_gates(
        replace(axes, gates=gates), _figures(0, steps=2, agree=0.9), Artifact(tmp_path, None, {})
    )
    assert verdict is not None and verdict.gate == "max_error_steps_vs_reference_runtime <= 0"


def test_matrix_gates_are_the_axes_files(axes):
    assert [(g.metric, g.min, g.max) for g in axes.gates] == [
        ("vectors_differing_vs_reference_runtime", None, 0.0)
    ]


def test_compare_outputs_counts_vectors_steps_and_top1():
    golden = [np.array([[1, 5, 2], [7, 0, 0], [0, 0, 9]], dtype=np.int8)]
    same = compare_outputs([golden[0].copy()], golden)
    assert same == _figures(0, n=3, steps=0, agree=1.0)
    moved = golden[0].copy()
    moved[1, 1] = 10  # vector 1: top-1 moves, by 10 steps
    moved[2, 0] = 1  # vector 2: one step, same top-1
    assert compare_outputs([moved], golden) == _figures(2, n=3, steps=10, agree=2 / 3)
    # with two outputs, a vector differing in either differs; top-1 is output 0's
    second = [np.zeros((3, 2), np.int8)]
    other = second[0].copy()
    other[0, 1] = -2
    two = compare_outputs([golden[0].copy(), other], [golden[0], second[0]])
    assert two == _figures(1, n=3, steps=2, agree=1.0)
    assert compare_outputs([moved, other], [golden[0], second[0]]) == _figures(
        3, n=3, steps=10, agree=2 / 3
    )
    with pytest.raises(ValueError, match=r"^1 outputs against 2 reference outputs$"):
        compare_outputs([moved], [golden[0], second[0]])
    with pytest.raises(ValueError, match=r"^output shape \(3, 2\) against reference \(3, 3\)$"):
        compare_outputs([second[0]], golden)


def test_outputs_saved_and_loaded_in_order(tmp_path):
    outs = [np.arange(6, dtype=np.int8).reshape(3, 2), np.ones((3, 1, 4), np.float32)]
    save_outputs(tmp_path / "o.npz", outs)
    back = load_outputs(tmp_path / "o.npz")
    assert [(b.dtype, b.shape) for b in back] == [(o.dtype, o.shape) for o in outs]
    assert all(np.array_equal(b, o) for b, o in zip(back, outs, strict=True))


# A tflite-micro that computes differently, as old builds do with per-channel FULLY_CONNECTED:
# every output whose first element is even comes out moved by up to 3 steps. Loaded through
# sitecustomize in every process of the cell (the probe, pytest, the twin), so the twin still
# matches the runtime beside it and the HIL suite passes.
DIFFERENT_RUNTIME = """
import numpy as np
from tflite_micro.python.tflite_micro import runtime

_real = runtime.Interpreter.get_output


def get_output(self, index):
    out = np.array(_real(self, index))
    if out.size and int(out.flat[0]) % 2 == 0:
        out.flat[0] = min(int(out.flat[0]) + 3, np.iinfo(out.dtype).max)
    return out


runtime.Interpreter.get_output = get_output
"""


def test_runtime_that_computes_differently_is_a_degraded_cell(axes, places, tmp_path):
    stub = tmp_path / "stub"
    stub.mkdir()
    (stub / "sitecustomize.py").write_text(DIFFERENT_RUNTIME)
    python = tmp_path / "python"
    python.write_text(
        "#!/bin/sh\n"
        f'export PYTHONPATH="{stub}${{PYTHONPATH:+:$PYTHONPATH}}"\n'
        f'export TFLM_HIL_CACHE="{tmp_path / "cache"}"\n'  # no host outputs of the real runtime
        f'exec "{sys.executable}" "$@"\n'
    )
    python.chmod(0o755)
    result = run_sim_cell(axes, *cell_args(axes), tmp_path / "cell.json", places, python=python)
    work = Path(result.logs["work"])
    mine = load_outputs(work / "outputs.npz")[0]
    golden = load_outputs(places.artifacts / MODEL / "prebuilt" / "golden.npz")[0]
    n = len(golden)
    differ = int(np.count_nonzero(np.any(mine.reshape(n, -1) != golden.reshape(n, -1), axis=1)))
    assert 0 < differ < len(golden)  # really different, and not everywhere
    assert (result.status, result.stage, result.category) == (
        "degraded",
        "gate",
        "reference-runtime",
    ), result.error
    assert result.figures["vectors_differing_vs_reference_runtime"] == differ
    assert result.figures["max_error_steps_vs_reference_runtime"] == 3
    assert result.error.startswith(f"{differ} of {len(golden)} vectors differ")
    assert "The HIL suite passed" in result.error
    assert read_result(tmp_path / "cell.json").status == "degraded"


def test_real_older_runtime_that_computes_differently_is_a_degraded_cell(axes, tmp_path):
    """tflite-micro 0.dev20240102222236 runs per-channel FULLY_CONNECTED with one scale and no
    error (docs/matrix.md): the HIL suite passes on its twin, the comparison degrades the cell.
    Runs where the matrix has made that runtime's environment (about 2 minutes, once)."""
    runtime, converter = axes.runtime("tflm2401"), axes.converter("tf221")
    model = axes.model("digits")
    spec = EnvSpec(
        f"rt-{runtime.id}", tuple(runtime_requirements(axes, runtime)), harness_source()
    )
    venvs = REPO / ".tflm-hil" / "matrix" / "venvs"  # the matrix's, run from the checkout
    if not (venvs / f"{spec.name}-{spec.digest}" / STAMP).is_file():
        pytest.skip(
            f"no environment with tflite-micro {runtime.version}: make it with `tflm-hil matrix "
            f"run --tflm-runtime {runtime.version} --converter {converter.id} --model {model.id}`"
        )
    places = Places(tmp_path / "artifacts", venvs, tmp_path / "work")
    result = run_sim_cell(axes, model, runtime, converter, tmp_path / "cell.json", places)
    assert (result.status, result.stage, result.category) == (
        "degraded",
        "gate",
        "reference-runtime",
    ), result.error
    assert "The HIL suite passed" in result.error
    differ = int(result.figures["vectors_differing_vs_reference_runtime"])
    n = int(result.figures["vectors_vs_reference_runtime"])
    steps = result.figures["max_error_steps_vs_reference_runtime"]
    assert 0 < differ < n
    # the main finding of docs/matrix.md is this measurement
    matrix_doc = (REPO / "docs" / "matrix.md").read_text()
    assert f"{differ}/{n} vectors differ from the reference runtime, up to {steps:g} steps" in (
        matrix_doc
    )
