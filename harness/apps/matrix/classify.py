"""From what a step left behind (exit status, JUnit XML, the results store, logs) to one outcome.

Each function is pure: it takes the evidence and returns a ``Verdict``, or None when the step
found nothing wrong, so the mapping is tested with synthetic evidence.
"""

from __future__ import annotations

import re
import signal
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from ...errors import EXIT_INFRA
from ...proc import ProcessRun
from .junit import JunitReport

# pytest's exit statuses, and the plugin's status for infrastructure faults.
EXIT_OK, EXIT_TESTS_FAILED, EXIT_INTERRUPTED, EXIT_INTERNAL, EXIT_USAGE, EXIT_NO_TESTS = range(6)

# A process that died this way left these lines in its log (faulthandler, glibc, LLVM), or
# the link's error says so (firmware on QEMU stopping on a CPU fault: harness/emu/qemu.py).
CRASH_SIGNATURES = re.compile(
    r"Fatal Python error|Segmentation fault|Aborted \(core dumped\)|LLVM ERROR|"
    r"terminate called after throwing|double free or corruption|stack smashing detected|"
    r"stopped on a CPU fault"
)
ERROR_LINE = re.compile(r"\berror: ")
IMPORT_FAILURE = re.compile(
    r"ModuleNotFoundError|ImportError|undefined symbol|_ARRAY_API not found|"
    r"compiled using NumPy 1\.x|cannot open shared object file"
)
# The plugin refuses a model too big for the board before anything runs (bad input, exit 4,
# harness/plugin/preflight.py): for the matrix, that board cannot build the model's image.
DOES_NOT_FIT = re.compile(
    r"^ERROR: tflm-hil: (.* does not fit .*|.* needs a tensor arena of .*)$", re.MULTILINE
)
# Harness failure categories (harness/errors.py) -> outcome, most fundamental first.
CATEGORY_OUTCOMES: tuple[tuple[str, str], ...] = (
    ("build", "build"),
    ("flash", "flash"),
    ("model", "unsupported"),
    ("timeout", "timeout"),
    ("link", "timeout"),
    ("device", "timeout"),
    ("infra", "timeout"),
    ("config", "timeout"),
)
ERROR_CHARS = 2000


@dataclass(frozen=True)
class Verdict:
    status: str
    stage: str
    gate: str = ""
    error: str = ""
    category: str = ""
    details: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class StoredResult:
    """A row of the results store's ``results`` table."""

    nodeid: str
    outcome: str
    category: str | None
    message: str


def signal_name(returncode: int) -> str:
    try:
        return signal.Signals(-returncode).name
    except ValueError:
        return f"signal {-returncode}"


def tail(text: str, chars: int = ERROR_CHARS) -> str:
    text = text.strip()
    return text if len(text) <= chars else "…" + text[-chars:]


def crash_lines(text: str, limit: int = 6, width: int = 300) -> str:
    """The lines of a log that say how a process died (MLIR's error lines run to kilobytes:
    each is cut to ``width``)."""
    lines = [
        ln if len(ln) <= width else ln[: width // 2] + " … " + ln[-width // 2 :]
        for ln in text.splitlines()
        if CRASH_SIGNATURES.search(ln) or ERROR_LINE.search(ln)
    ]
    return "\n".join(lines[-limit:])


def _died(run: ProcessRun, stage: str, what: str) -> Verdict | None:
    """The verdicts every child shares: killed for time, or killed by a signal."""
    if run.timed_out:
        return Verdict(
            "timeout",
            stage,
            error=f"{what} did not finish within {run.timeout_s:.0f} s and was killed\n"
            + tail(run.output, 800),
            category="cell-timeout",
        )
    if run.returncode is not None and run.returncode < 0:
        name = signal_name(run.returncode)
        return Verdict(
            "crash",
            stage,
            error=f"{what} died of {name}\n" + (crash_lines(run.output) or tail(run.output, 800)),
            category=name,
        )
    return None


# ---- the environment ----------------------------------------------------------------------


def classify_env_failure(requirements: Sequence[str], output: str) -> Verdict:
    return Verdict(
        "install",
        "env",
        error=f"cannot install {' '.join(requirements)}\n{tail(output, 1500)}",
        category="install",
    )


# ---- the converter step --------------------------------------------------------------------


def classify_convert(run: ProcessRun, report: dict[str, object] | None) -> Verdict | None:
    """``report`` is the JSON the converter step printed (None if it printed none)."""
    died = _died(run, "convert", "the converter")
    if died:
        return died
    if report is None or (run.returncode != 0 and report.get("stage") == "done"):
        if IMPORT_FAILURE.search(run.output):
            return Verdict("install", "convert", error=tail(run.output), category="import")
        if CRASH_SIGNATURES.search(run.output):
            return Verdict("crash", "convert", error=crash_lines(run.output), category="abort")
        code = run.returncode
        return Verdict(
            "crash",
            "convert",
            error=f"the converter exited with status {code} without a report\n"
            + tail(run.output, 800),
            category=f"exit {code}",
        )
    if report.get("ok"):
        return None
    stage = str(report.get("stage", ""))
    error = str(report.get("error", ""))
    if stage == "import" or IMPORT_FAILURE.search(error):
        return Verdict("install", "convert", error=error, category="import")
    return Verdict("unsupported", "convert", gate="conversion", error=error, category=stage)


# ---- the probe: the runtime alone, before the suite -----------------------------------------


def classify_probe(run: ProcessRun, report: dict[str, object] | None) -> Verdict | None:
    """The probe imports the runtime, loads the model and runs every vector (probe.py)."""
    stage = str((report or {}).get("stage", "start"))
    died = _died(run, "probe", f"the runtime (during {stage})")
    if died:
        return died
    if report is None:
        if IMPORT_FAILURE.search(run.output):
            return Verdict("install", "probe", error=tail(run.output), category="import")
        return Verdict(
            "crash",
            "probe",
            error=f"the probe exited with status {run.returncode} without a report\n"
            + tail(run.output, 800),
            category=f"exit {run.returncode}",
        )
    if report.get("ok"):
        return None
    error = str(report.get("error", ""))
    reason = str(report.get("log", "")).strip()
    text = f"{reason}\n({error})" if reason else error
    if stage == "import" or IMPORT_FAILURE.search(text):
        return Verdict("install", "probe", error=text, category="import")
    return Verdict("unsupported", "probe", gate=f"runtime {stage}", error=text, category=stage)


# ---- the HIL suite ---------------------------------------------------------------------------


def _failures(
    junit: JunitReport | None, stored: Iterable[StoredResult]
) -> list[tuple[str, str | None, str]]:
    """(test, category, message) for each failure, from JUnit and the results store."""
    out: list[tuple[str, str | None, str]] = []
    if junit is not None:
        for case in junit.failed:
            out.append((case.name, case.category, case.message or tail(case.text, 400)))
    seen_categories = {c for _, c, _ in out if c}
    for row in stored:
        if row.outcome in ("failed", "error"):
            # The store records the category of setup errors that JUnit may not carry.
            if row.category and row.category not in seen_categories:
                out.append((row.nodeid, row.category, row.message))
                seen_categories.add(row.category)
            elif junit is None:
                out.append((row.nodeid, row.category, row.message))
    return out


def classify_suite(
    run: ProcessRun,
    junit: JunitReport | None,
    stored: Sequence[StoredResult] = (),
    device_log: str = "",
) -> Verdict:
    """The HIL suite's outcome. ``device_log`` is the twin's log (its stderr)."""
    died = _died(run, "suite", "the HIL suite")
    if died:
        return died
    code = run.returncode
    failures = _failures(junit, stored)
    categories = {c for _, c, _ in failures if c}
    if code == EXIT_OK and not failures:
        return Verdict("pass", "suite")
    if code in (EXIT_TESTS_FAILED, EXIT_INFRA) or (code == EXIT_OK and failures):
        for category, status in CATEGORY_OUTCOMES:
            if category not in categories:
                continue
            test, _, message = next(f for f in failures if f[1] == category)
            death = next((t for t in (device_log, message) if CRASH_SIGNATURES.search(t)), None)
            if status == "timeout" and death is not None:
                # The link failed because the device died (the twin's process, the firmware on
                # QEMU): a crash, not the rig.
                return Verdict(
                    "crash", "suite", gate=test, error=crash_lines(death), category=category
                )
            return Verdict(status, "suite", gate=test, error=message, category=category)
        if failures:
            test, _, message = failures[0]
            more = f" (and {len(failures) - 1} more)" if len(failures) > 1 else ""
            return Verdict(
                "degraded",
                "suite",
                gate=test + more,
                error=message,
                category="assertion",
                details={"failed_tests": [f[0] for f in failures]},
            )
        return Verdict(
            "timeout",
            "suite",
            error=f"pytest exited with status {code} but no test failed\n" + tail(run.output, 800),
            category=f"exit {code}",
        )
    if code == EXIT_INTERRUPTED:
        if IMPORT_FAILURE.search(run.output):
            return Verdict("install", "suite", error=tail(run.output), category="import")
        return Verdict(
            "timeout",
            "suite",
            error="pytest was interrupted\n" + tail(run.output),
            category="interrupted",
        )
    if code == EXIT_INTERNAL:
        return Verdict(
            "crash",
            "suite",
            error="pytest internal error\n" + tail(run.output),
            category="internal",
        )
    if code == EXIT_USAGE and (too_big := DOES_NOT_FIT.search(run.output)):
        return Verdict("build", "suite", error=too_big.group(0), category="does-not-fit")
    if code == EXIT_USAGE:
        return Verdict(
            "timeout", "suite", error="pytest usage error\n" + tail(run.output), category="config"
        )
    if code == EXIT_NO_TESTS:
        return Verdict("timeout", "suite", error="no HIL test was collected", category="no-tests")
    return Verdict(
        "crash",
        "suite",
        error=f"pytest exited with status {code}\n" + tail(run.output),
        category=f"exit {code}",
    )
