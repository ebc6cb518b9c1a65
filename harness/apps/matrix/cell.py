"""One cell, one outcome: the HIL suite on one combination, isolated, classified, written.

Simulated cell (model x tflite-micro runtime x converter):
  1. a provisional result is written (``timeout``, unfinished) so a killed cell says so;
  2. the converter artifact is made or reused (converter.py); a failed conversion decides;
  3. the runtime's environment is made or reused (or tox's, or the current one);
  4. the probe runs the runtime alone: cannot import -> install, dies -> crash;
  5. the HIL suite runs on the twin in a subprocess with a time limit;
  6. its exit status, JUnit properties and results store give the outcome (classify.py);
  7. outputs are compared with the reference runtime's: a difference is ``degraded``.
Hardware cell (model x TFLM library ref x Arduino core x board): step 1; the firmware
compiled against the core and the library (check_step.py: ``install``, ``build`` or on; with
no board to run on, ``compiles``); then steps 5 and 6, with the pins exported to PlatformIO.
"""

from __future__ import annotations

import sqlite3
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from ...boards.catalog import resolve_board
from ...firmware.pins import Pins
from ...plugin.runner import SuiteRun, suite_env
from ...plugin.runner import run_suite as run_suite_child
from ...proc import ProcessRun, read_tail, run_child
from ...provenance import Provenance
from ...results.store import ResultsStore
from .axes import Axes, Converter, Model, Pinned, Runtime
from .check_step import nothing_to_run_on, run_check
from .child import read_report, stderr_path, with_stderr
from .classify import (
    StoredResult,
    Verdict,
    classify_env_failure,
    classify_probe,
    classify_suite,
)
from .compare import compare_outputs, load_outputs
from .converter import Artifact, convert, load_artifact
from .junit import parse_junit
from .result import CellResult, provisional, write_result
from .runtime_pins import next_fix
from .venvs import EnvSpec, ensure_env, harness_source, installed_version

TFLM_REF_VAR = "HIL_TFLM_REF"  # firmware/platformio.ini reads the pins from these
ARDUINO_CORE_VAR = "HIL_ARDUINO_CORE"
PIN_GATE = "test_pin_compat"  # harness/suite/test_pin_compat.py, left out by -k


@dataclass(frozen=True)
class Places:
    """Where a run keeps things. Defaults live under .tflm-hil/matrix in the repository."""

    artifacts: Path
    venvs: Path
    work: Path

    @classmethod
    def under(cls, root: Path) -> Places:
        return cls(root / "artifacts", root / "venvs", root / "work")


@dataclass
class SuiteEvidence:
    run: ProcessRun
    verdict: Verdict
    figures: dict[str, float] = field(default_factory=dict)
    provenance: dict[str, str] = field(default_factory=dict)  # of the figures not measured
    device: dict[str, str] = field(default_factory=dict)


def runtime_requirements(axes: Axes, runtime: Runtime) -> list[str]:
    return [runtime.requirement, *runtime.pins, f"tensorflow=={axes.reference_tensorflow}"]


def installed_tflm() -> str | None:
    return installed_version("tflite-micro")


# ---- the HIL suite -------------------------------------------------------------------------


def run_suite(
    python: Path,
    work: Path,
    *,
    board: str,
    model: Path,
    vectors: Path | None,
    reference: Path | None,
    timeout: float,
    env: dict[str, str] | None = None,
    pytest_args: tuple[str, ...] = (),
) -> SuiteEvidence:
    junit, db, logs = work / "junit.xml", work / "results.sqlite", work / "logs"
    for stale in (junit, db):
        stale.unlink(missing_ok=True)
    run = run_suite_child(
        SuiteRun(board, model, vectors=vectors, reference=reference, db=db, log_dir=logs,
                 junit=junit, extra=pytest_args, python=python),
        log=work / "suite.log",
        timeout=timeout,
        env=env,
    )
    report = None
    if junit.is_file():
        try:
            report = parse_junit(junit)
        except (OSError, ValueError):
            report = None
    stored, figures, provenance, device = read_store(db)
    device_log = "\n".join(read_tail(p) for p in sorted(logs.glob("twin-*.log")))
    verdict = classify_suite(run, report, stored, device_log)
    return SuiteEvidence(run, verdict, figures, provenance, device)


def keep_evidence(result: CellResult, evidence: SuiteEvidence, work: Path) -> None:
    """The suite's figures, their provenance, the device it ran on and its log, in ``result``."""
    result.logs["suite"] = str(work / "suite.log")
    result.figures.update(evidence.figures)
    result.provenance = evidence.provenance
    result.details["device"] = evidence.device


def read_store(
    db: Path,
) -> tuple[list[StoredResult], dict[str, float], dict[str, str], dict[str, str]]:
    """The suite's results, figures (the last value of each metric), the provenance of those
    not measured, and the device of its run."""
    if not db.is_file():
        return [], {}, {}, {}
    try:
        store = ResultsStore(db)
    except sqlite3.Error:
        return [], {}, {}, {}
    try:
        runs = store.runs()
        if not runs:
            return [], {}, {}, {}
        run = runs[-1]
        stored = [
            StoredResult(r["nodeid"], r["outcome"], r["category"], r["message"] or "")
            for r in store.results(run["id"])
        ]
        figures: dict[str, float] = {}
        provenance: dict[str, str] = {}
        for m in store.metrics(run["id"]):
            figures[m.name] = m.value
            if m.provenance is not Provenance.MEASURED:
                provenance[m.name] = str(m.provenance)
        device = {k: str(run[k]) for k in ("tflm_version", "core_version", "fw_version") if run[k]}
        return stored, figures, provenance, device
    finally:
        store.close()


# ---- simulated cells -----------------------------------------------------------------------


def sim_cell_base(model: Model, runtime: Runtime, converter: Converter) -> CellResult:
    return CellResult(
        kind="sim",
        model=model.id,
        row=runtime.id,
        column=converter.id,
        axes={
            "runtime": runtime.id,
            "tflite_micro": runtime.version,
            "converter": converter.id,
            "tensorflow": converter.tensorflow or "prebuilt",
            "per_channel_dense": str(converter.per_channel_dense).lower(),
        },
        status="timeout",
    )


def _apply(result: CellResult, verdict: Verdict) -> CellResult:
    details = {**result.details, **verdict.details}
    return replace(
        result,
        status=verdict.status,
        stage=verdict.stage,
        gate=verdict.gate,
        error=verdict.error,
        category=verdict.category,
        details=details,
    )


def _runtime_python(
    axes: Axes,
    runtime: Runtime,
    places: Places,
    python: Path | None,
    in_env: bool,
    own_env: bool = False,
) -> tuple[Path | Verdict, str]:
    """The interpreter that has the cell's runtime (or the install verdict), and how it was
    found. ``own_env``: pins were added, so not this interpreter even if it has the version."""
    if in_env:
        have = installed_tflm()
        if have != runtime.version:
            return (
                Verdict(
                    "install",
                    "env",
                    error=f"this environment has tflite-micro {have}, the cell wants "
                    f"{runtime.version}: check the tox env's deps",
                    category="mismatch",
                ),
                "",
            )
        return Path(sys.executable), "current (tox)"
    if python is not None:
        return python, "given"
    if installed_tflm() == runtime.version and not own_env:
        return Path(sys.executable), "current"
    reqs = runtime_requirements(axes, runtime)
    env = ensure_env(EnvSpec(f"rt-{runtime.id}", tuple(reqs), harness_source()), places.venvs)
    if env.python is None:
        return classify_env_failure(reqs, env.output), str(env.log)
    return env.python, str(env.log)


def _probe(
    py: Path, artifact: Artifact, work: Path, timeout: float
) -> tuple[ProcessRun, dict | None, Verdict | None]:
    """The runtime alone on the cell's model (probe.py), and what its outcome says."""
    stderr_path(work / "probe.json").unlink(missing_ok=True)
    (work / "probe.json").unlink(missing_ok=True)
    vectors = ["--vectors", str(artifact.vectors)] if artifact.vectors else []
    run = run_child(
        [
            str(py),
            "-m",
            "harness.apps.matrix.probe",
            "--model",
            str(artifact.model),
            *vectors,
            "--report",
            str(work / "probe.json"),
            "--out",
            str(work / "outputs.npz"),
        ],
        log=work / "probe.log",
        timeout=timeout,
        env=suite_env(),
    )
    run = with_stderr(run, work / "probe.json")
    report = read_report(work / "probe.json")
    return run, report, classify_probe(run, report)


def run_sim_cell(
    axes: Axes,
    model: Model,
    runtime: Runtime,
    converter: Converter,
    out: Path,
    places: Places,
    *,
    in_env: bool = False,
    python: Path | None = None,
    timeout: float | None = None,
) -> CellResult:
    """Runs one simulated cell and writes its result to ``out``; never raises for the cell's
    own failures (those are its outcome)."""
    result = sim_cell_base(model, runtime, converter)
    write_result(provisional(result), out)
    work = places.work / result.cell_id
    work.mkdir(parents=True, exist_ok=True)
    result.logs["work"] = str(work)
    timeout = timeout or axes.cell_timeout_s

    # 2. the converter artifact
    if in_env:  # tox: the converter ran in its own env (convert-<id>) before this one
        artifact = load_artifact(places.artifacts, model, converter)
        if artifact is None:
            return finish(
                result,
                Verdict(
                    "timeout",
                    "convert",
                    error=f"no converted model in {places.artifacts}: run "
                    f"`tox -e convert-{converter.id}` (or tflm-hil matrix convert) first",
                    category="missing-artifact",
                ),
                out,
            )
    else:
        artifact = convert(axes, model, converter, places.artifacts, venv_root=places.venvs)
    result.details["convert"] = convert_summary(artifact.info)
    result.logs["convert"] = str(artifact.dir / "convert.log")
    if artifact.verdict is not None:
        return finish(result, artifact.verdict, out)

    # 3-4. the runtime's environment, then the probe; an import failure with a known cause
    # (runtime_pins.py) is retried in an environment with the pin that cures it
    pins = list(runtime.pins)
    while True:
        py, how = _runtime_python(
            axes,
            replace(runtime, pins=tuple(pins)),
            places,
            python,
            in_env,
            own_env=len(pins) > len(runtime.pins),
        )
        result.details["environment"] = how
        result.details["pins"] = list(pins)
        if isinstance(py, Verdict):
            return finish(result, py, out)
        probe_run, probe, probe_verdict = _probe(py, artifact, work, timeout)
        fix = None
        if (
            probe_verdict is not None
            and probe_verdict.status == "install"
            and not (in_env or python)
        ):
            fix = next_fix(f"{probe_verdict.error}\n{probe_run.output}", pins)
        if fix is None:
            break
        result.details.setdefault("retries", []).append(
            f"{' '.join([runtime.requirement, *pins])}: {fix.why}; again with {fix.pin}"
        )
        pins.append(fix.pin)
    result.logs["probe"] = str(work / "probe.log")
    result.details["probe"] = {
        k: (probe or {}).get(k) for k in ("stage", "tflm_version", "numpy", "vectors", "log")
    }
    if probe_verdict is not None and probe_verdict.status in ("install", "crash", "timeout"):
        return finish(result, probe_verdict, out)  # the suite would only fail the same way

    # 5-6. the HIL suite
    evidence = run_suite(
        py,
        work,
        board=axes.board,
        model=artifact.model,
        vectors=artifact.vectors,
        reference=model.reference,
        timeout=timeout,
        # The row is the runtime under test, not the board's library: the pin gate judges the
        # library at HIL_TFLM_REF, the emulated and hardware matrices' axis (docs/matrix.md).
        pytest_args=("-k", f"not {PIN_GATE}"),
    )
    keep_evidence(result, evidence, work)
    verdict = evidence.verdict
    if probe_verdict is not None:
        # The runtime rejected the model: the probe has TFLM's own reason; keep the suite's.
        result.details["suite"] = {"status": verdict.status, "error": verdict.error[:500]}
        if verdict.status in ("unsupported", "pass", "degraded"):
            verdict = probe_verdict
        return finish(result, verdict, out)

    # 7. against the reference runtime
    golden = artifact.golden
    if golden is not None and (work / "outputs.npz").is_file():
        figures = compare_outputs(load_outputs(work / "outputs.npz"), load_outputs(golden))
        result.figures.update(figures)
        result.details["reference_runtime"] = artifact.info.get("golden_runtime", "")
        if verdict.status == "pass":
            verdict = _matrix_gates(axes, result.figures, artifact) or verdict
    return finish(result, verdict, out)


def _matrix_gates(axes: Axes, figures: dict[str, float], artifact: Artifact) -> Verdict | None:
    for gate in axes.gates:
        if gate.judge(figures.get(gate.metric)).passed is not False:  # passed, or not measured
            continue
        n = int(figures.get("vectors_vs_reference_runtime", 0))
        steps = figures.get("max_error_steps_vs_reference_runtime", 0.0)
        agree = figures.get("top1_agreement_vs_reference_runtime", 1.0)
        return Verdict(
            "degraded",
            "gate",
            gate=f"{gate.metric} {gate.condition}",
            error=(
                f"{int(figures.get('vectors_differing_vs_reference_runtime', 0))} of {n} vectors "
                f"differ from the reference runtime (tflite-micro "
                f"{artifact.info.get('golden_runtime', '?')}), by up to {steps:g} quantisation "
                f"steps; top-1 agreement with it {agree:.3f}. The HIL suite passed: the twin "
                "matches this runtime, and this runtime computes differently."
            ),
            category="reference-runtime",
        )
    return None


def convert_summary(info: dict) -> dict:
    keys = (
        "status",
        "versions",
        "op_versions",
        "per_channel_ops",
        "model_sha256",
        "golden_runtime",
        "vectors",
    )
    return {k: info[k] for k in keys if k in info}


def finish(result: CellResult, verdict: Verdict, out: Path) -> CellResult:
    final = _apply(result, verdict)
    final.finished = time.time()
    write_result(final, out)
    return final


# ---- hardware cells ------------------------------------------------------------------------


def hw_cell_base(model: Model, board: str, tflm_ref: Pinned, core: Pinned) -> CellResult:
    return CellResult(
        kind="hw",
        model=model.id,
        row=tflm_ref.id,
        column=f"{board} {core.id}",
        axes={
            "board": board,
            "tflm_ref": tflm_ref.id,
            "tflm_ref_sha": tflm_ref.value,
            "arduino_core": core.id,
            "arduino_core_version": core.value,
        },
        status="timeout",
    )


def run_hw_cell(
    axes: Axes,
    model: Model,
    board: str,
    tflm_ref: Pinned,
    core: Pinned,
    out: Path,
    places: Places,
    *,
    timeout: float | None = None,
) -> CellResult:
    """A real board: the firmware is compiled against the core first (check_step.py); then this
    environment's harness builds and flashes through PlatformIO, which reads the library ref
    and core version from the environment."""
    result = hw_cell_base(model, board, tflm_ref, core)
    write_result(provisional(result), out)
    work = places.work / result.cell_id.replace(" ", "-")
    work.mkdir(parents=True, exist_ok=True)
    tflite = model.hardware_tflite or model.tflite
    if tflite is None:
        return finish(
            result,
            Verdict(
                "timeout",
                "run",
                error=f"model {model.id} has no .tflite for boards",
                category="config",
            ),
            out,
        )
    spec = resolve_board(board)[0]
    verdict, check = run_check(
        spec, Pins(tflm_ref.value, core.value), core, tflm_ref, tflite, work
    )
    if check:
        result.details["check"] = check
        result.logs["check"] = str(check["log"])
    verdict = verdict or nothing_to_run_on(spec)
    if verdict is not None:
        return finish(result, verdict, out)
    evidence = run_suite(
        Path(sys.executable),
        work,
        board=board,
        model=tflite,
        vectors=model.vectors,
        reference=model.reference,
        timeout=timeout or axes.cell_timeout_s,
        env={TFLM_REF_VAR: tflm_ref.value, ARDUINO_CORE_VAR: core.value},
    )
    keep_evidence(result, evidence, work)
    return finish(result, evidence.verdict, out)
