"""The HIL suite run as a user runs it (pytest in a subprocess): caching, latency comparison
across runs, a degraded model caught by its gate, the HTML report, and collection without
TensorFlow."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from harness.firmware.library_history import HISTORY_VAR
from harness.plugin import runner
from harness.plugin.runner import SuiteRun

from .conftest import DIGITS_KERAS, DIGITS_MODEL, DIGITS_VECTORS, REPO
from .docs_samples import check_sample, sample_command


@dataclass(frozen=True)
class SuiteOutput:
    returncode: int | None
    stdout: str  # the child's stdout and stderr, interleaved as printed


def run_suite(
    tmp: Path,
    *args: str,
    cache: Path | None = None,
    env: dict[str, str] | None = None,
    paths: tuple[str, ...] = ("tests_hil",),
) -> SuiteOutput:
    """The suite as the registry and the matrix run it (harness.plugin.runner: a process group
    killed on timeout, so a hung twin cannot outlive the test), collected from ``paths``."""
    log = tmp / "suite.log"
    log.unlink(missing_ok=True)
    # in a random order, as `pytest tests_hil` runs (pytest-randomly)
    run = SuiteRun(db=tmp / "results.sqlite", log_dir=tmp / "logs", target=paths, extra=args,
                   in_order=False)
    done = runner.run_suite(
        run, log=log, timeout=600, cwd=REPO,
        env={"TFLM_HIL_CACHE": str(cache or tmp / "cache"), **(env or {})},
    )
    assert not done.timed_out, done.output[-3000:]
    # the log's first line is the command
    return SuiteOutput(done.returncode, log.read_text().split("\n", 1)[1])


def test_second_run_reuses_references_and_compares_latency(tmp_path):
    bench = ["--benchmark-storage", f"file://{tmp_path / 'bench'}", "--property-examples", "5"]
    first = run_suite(tmp_path, *bench, "--benchmark-autosave")
    assert first.returncode == 0, first.stdout[-3000:]
    assert "host TFLM computed" in first.stdout
    assert "float (digits.keras) computed" in first.stdout
    second = run_suite(
        tmp_path, *bench, "--benchmark-compare", "--benchmark-compare-fail=median:5%"
    )
    assert second.returncode == 0, second.stdout[-3000:]
    assert "host TFLM reused from the cache" in second.stdout
    assert "float (digits.keras) reused from the cache" in second.stdout
    # pytest-benchmark compared this run's device latency with the saved one
    assert re.search(r"test_latency\[sim_nano33-estimated\] \(NOW\)", second.stdout)
    assert re.search(r"test_latency\[sim_nano33-estimated\] \(0001", second.stdout)
    # the docs show what these runs print
    check_sample("README.md", "device-summary", first.stdout, excerpt=True)
    check_sample("docs/validation.md", "reference-cache", second.stdout, excerpt=True)
    command = sample_command("docs/validation.md", "history")
    db = ["--db", str(tmp_path / "results.sqlite")]
    history = subprocess.run(
        [sys.executable, "-m", "harness.cli", *command[1:], *db],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    check_sample("docs/validation.md", "history", f"$ {shlex.join(command)}\n{history.stdout}")


def test_degraded_model_fails_the_gate_naming_metric_and_threshold(tmp_path):
    """Calibrated on inputs normalised twice (x 0.05), the int8 model saturates everywhere."""
    from harness.model.convert import convert_int8

    xf = np.load(DIGITS_VECTORS)["x_float"].reshape(-1, 8, 8, 1)[:100]
    bad = tmp_path / "digits_bad.tflite"
    bad.write_bytes(convert_int8(DIGITS_KERAS, (xf * 0.05).astype(np.float32)))
    run = run_suite(
        tmp_path,
        "--model",
        str(bad),
        "--vectors",
        str(DIGITS_VECTORS),
        "--reference",
        str(DIGITS_KERAS),
        "-k",
        "gate or bit_for_bit",
    )
    assert run.returncode == 1, run.stdout[-3000:]
    m = re.search(
        r"top1_agreement_vs_float = ([0-9.]+) FAILS the gate >= 0.95 \(from ([^)]+)\)", run.stdout
    )
    assert m, run.stdout[-3000:]
    assert float(m.group(1)) < 0.95
    assert m.group(2) == "tflm-hil defaults"
    # only gates fail: the device still matches the host runtime bit for bit, so the model
    # is bad, not the rig
    failed = re.findall(r"^FAILED (\S+)", run.stdout, flags=re.M)
    assert failed and all("test_gate[" in f for f in failed), failed
    check_sample("docs/validation.md", "gate-failure", run.stdout, excerpt=True)


def test_html_report_renders_with_its_plots(tmp_path):
    import matplotlib.image as mpimg

    assert shutil.which("chromium"), "Debian's chromium is missing: ./dev setup installs it"
    report = tmp_path / "report.html"
    run = run_suite(
        tmp_path, "--html", str(report), "--self-contained-html", "--property-examples", "5"
    )
    assert run.returncode == 0, run.stdout[-3000:]
    page = report.read_text()
    assert page.count('class="tflm-hil-plot"') == 3  # latency, error histogram, confusion
    shot = tmp_path / "shot.png"
    subprocess.run(
        [
            "chromium",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'chromium'}",
            "--window-size=1300,2000",
            f"--screenshot={shot}",
            report.as_uri(),
        ],
        capture_output=True,
        timeout=120,
        check=True,
    )
    pixels = mpimg.imread(shot)[..., :3]
    assert pixels.shape[0] == 2000 and pixels.shape[1] == 1300
    # the plots' bars, lines and the confusion matrix's cells are saturated colours that
    # pytest-html's grey and white page does not have: count them
    saturation = pixels.max(axis=2) - pixels.min(axis=2)
    assert np.count_nonzero(saturation > 0.3) > 5000


def test_collecting_the_suite_imports_no_tensorflow():
    code = (
        "import sys, pytest\n"
        "rc = pytest.main(['--collect-only', '-q', '-p', 'no:cacheprovider', "
        "'tests_unit', 'tests_hil'])\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras'))\n"
        "print('LOADED', loaded)\n"
        "sys.exit(rc)\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stdout[-3000:]
    assert "LOADED []" in run.stdout, run.stdout[-2000:]


def test_no_board_attached_is_an_infrastructure_failure_naming_the_fix(tmp_path):
    """No Nano 33 on this machine: the run stops at once (the subprocess timeout bounds it),
    as an infrastructure failure, never a pass or a model failure."""
    run = run_suite(tmp_path, "--board=nano33")
    assert run.returncode == 6, run.stdout[-3000:]
    assert "[link] (infrastructure)" in run.stdout
    assert "no Arduino Nano 33 BLE" in run.stdout and "found:" in run.stdout
    assert "--board=sim:nano33" in run.stdout
    assert "Interrupted: tflm-hil: no device to test (link)" in run.stdout
    assert " passed" not in run.stdout.splitlines()[-1]


def test_a_misspelt_gate_is_a_usage_error_naming_the_nearest_metric(tmp_path):
    """A gate on a metric nothing measures could never fail: refused before anything runs."""
    gates = tmp_path / "gates.toml"
    gates.write_text("[gates]\ntop1_agrement_vs_float = { min = 0.99 }\n")
    run = run_suite(tmp_path, "--gates", str(gates))
    assert run.returncode == 4, run.stdout[-3000:]
    # one line, and pytest's own count: the gates are judged once collection ends (the
    # plugin refuses them there, so that `pytest --fixtures` needs no model)
    lines = [ln for ln in run.stdout.splitlines() if ln.strip()]
    error = (
        f"ERROR: tflm-hil: {gates}: gate 'top1_agrement_vs_float' names a metric that is never "
        "measured, so it could never fail: did you mean 'top1_agreement_vs_float'?"
    )
    assert [ln for ln in lines if not ln.startswith("no tests ran")] == [error], run.stdout
    assert "Traceback" not in run.stdout
    check_sample("docs/validation.md", "misspelt-gate", error.replace(str(gates), "gates.toml"))
    assert not (tmp_path / "logs").exists()  # no twin was started


def test_a_known_metric_not_measured_is_skipped_with_the_reason(tmp_path):
    """No float reference and no labels: the float and label gates are skipped, not passed."""
    run = run_suite(tmp_path, "--model", str(DIGITS_MODEL), "-k", "test_gate", "-rs")
    assert run.returncode == 0, run.stdout[-3000:]
    skipped = re.findall(r"^SKIPPED \[1\] \S+: (.*)$", run.stdout, flags=re.M)
    assert sorted(skipped) == [
        "accuracy_drop_vs_float: not measured (gate <= 0.02 from tflm-hil defaults)",
        "cosine_vs_float: not measured (gate >= 0.95 from tflm-hil defaults)",
        "top1_agreement_vs_float: not measured (gate >= 0.95 from tflm-hil defaults)",
    ], run.stdout[-3000:]
    assert re.search(r"^1 passed, 3 skipped", run.stdout, flags=re.M), run.stdout[-3000:]


def test_a_per_channel_model_fails_the_pin_gate_and_the_rest_of_the_suite_runs(
    tmp_path, digits_per_channel
):
    """On the twin (newest kernels) the model is bit-exact with the host runtime: only the pin
    gate knows that the board's library computes per-channel FULLY_CONNECTED with one scale."""
    run = run_suite(
        tmp_path,
        "--model", str(digits_per_channel),
        "--vectors", str(DIGITS_VECTORS),
        "--reference", str(DIGITS_KERAS),
        "--property-examples", "5",
    )
    assert run.returncode == 1, run.stdout[-3000:]  # a model verdict: not infrastructure (6)
    failed = re.findall(r"^FAILED (\S+)", run.stdout, flags=re.M)
    assert failed == ["tests_hil/test_pin_compat.py::test_pin_compat"], run.stdout[-3000:]
    m = re.search(r"^pin_compat gate FAILS: (.*)$", run.stdout, flags=re.M)
    assert m, run.stdout[-3000:]
    for part in ("uses FULLY_CONNECTED with per-channel weights",
                 "HIL_TFLM_REF=7948b85e (2023-12-22", "wrong outputs, without an error",
                 "Fix: convert per tensor", "or move the pin with HIL_TFLM_REF="):
        assert part in m.group(1), part
    # every other test ran and passed, and the device section carries it as a warning
    summary = run.stdout.splitlines()[-1]
    assert re.search(r"1 failed, (\d+) passed", summary) and "skipped" not in summary, summary
    assert int(re.search(r"(\d+) passed", summary).group(1)) >= 10
    assert re.search(r"^\s*pin_compat: WARNING: .*FULLY_CONNECTED", run.stdout, flags=re.M)


def test_the_per_tensor_example_passes_the_pin_gate(tmp_path):
    run = run_suite(tmp_path, "-k", "pin_compat", "-rA")
    assert run.returncode == 0, run.stdout[-3000:]
    assert "PASSED tests_hil/test_pin_compat.py::test_pin_compat" in run.stdout


def test_a_board_running_the_pinned_library_needs_no_pin_gate(tmp_path, digits_per_channel):
    """A real board computes with the library itself: the gate is skipped with that reason
    (its outputs are judged), and nothing is built or flashed to find it out."""
    run = run_suite(
        tmp_path, "--board=nano33", "--model", str(digits_per_channel), "-k", "pin_compat", "-rs"
    )
    assert run.returncode == 0, run.stdout[-3000:]
    assert "nano33 computes with its pinned TFLM library itself" in run.stdout
    assert "1 skipped" in run.stdout.splitlines()[-1]


def test_a_pin_the_twin_cannot_place_fails_the_gate_naming_how_to_place_it(
    tmp_path, digits_per_channel
):
    gate = ["--model", str(digits_per_channel), "-k", "pin_compat"]
    run = run_suite(tmp_path, *gate, env={"HIL_TFLM_REF": "main", HISTORY_VAR: ""})
    assert run.returncode == 1, run.stdout[-3000:]
    assert "HIL_TFLM_REF=main could not be placed" in run.stdout
    assert f"set {HISTORY_VAR} to a clone of" in run.stdout


def test_a_pin_after_the_known_range_passes_the_gate(tmp_path, digits_per_channel):
    """A fork's commit on top of the default pin lies after the range the data file knows:
    the twin does not claim the issue there. Placed in a clone of the library."""
    library = os.environ.get(HISTORY_VAR)
    if not library:
        pytest.skip(f"no clone of the TFLM library: set {HISTORY_VAR} to one "
                    "(git clone https://github.com/tensorflow/tflite-micro-arduino-examples.git)")
    fork = tmp_path / "fork.git"
    subprocess.run(["git", "clone", "-q", "--bare", "--shared", library, str(fork)], check=True)
    pin = "7948b85e020470a30a83bf00e10fc43b486bfcba"
    git = ["git", "-C", str(fork), "-c", "user.name=t", "-c", "user.email=t@t"]
    after = subprocess.run([*git, "commit-tree", f"{pin}^{{tree}}", "-p", pin, "-m", "fork"],
                           check=True, capture_output=True, text=True).stdout.strip()
    gate = ["--model", str(digits_per_channel), "-k", "pin_compat", "-rA"]
    history = {HISTORY_VAR: str(fork)}
    moved = run_suite(tmp_path, *gate, env={"HIL_TFLM_REF": after, **history})
    assert moved.returncode == 0, moved.stdout[-3000:]
    assert "PASSED tests_hil/test_pin_compat.py::test_pin_compat" in moved.stdout
    # the same clone places the branch name inside the range
    placed = run_suite(tmp_path, *gate, env={"HIL_TFLM_REF": "main", **history})
    assert placed.returncode == 1, placed.stdout[-3000:]
    assert "HIL_TFLM_REF=main (2023-12-22: the last commit of main" in placed.stdout


def test_a_test_that_runs_before_the_device_is_opened_is_recorded(tmp_path):
    """The pin gate needs the board but not the device: run first (as a random order may),
    its result is still stored, with the run, before the device's tests."""
    from harness.results.store import ResultsStore

    files = ("tests_hil/test_pin_compat.py", "tests_hil/test_handshake.py")
    run = run_suite(tmp_path, "-p", "no:randomly", paths=files)
    assert run.returncode == 0, run.stdout[-3000:]
    store = ResultsStore(tmp_path / "results.sqlite")
    try:
        (only,) = store.runs()
        nodeids = [r["nodeid"] for r in store.results(only["id"])]
    finally:
        store.close()
    assert nodeids[0] == "tests_hil/test_pin_compat.py::test_pin_compat"
    assert len(nodeids) == 5 and only["exit_status"] == 0
