"""The tflm-hil pytest plugin: options, failure classification and reporting hooks.

Registered through the ``pytest11`` entry point, so ``pytest --board=nano33`` works in any
project that installs tflm-hil. The default board is the simulated twin (``sim:nano33``),
so a plain ``pytest`` needs no hardware. The fixtures live in ``harness.plugin.fixtures``.
"""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from .. import runlog
from ..boards.catalog import BoardKind, BoardSpec
from ..boards.driver import BoardDriver, DriverOptions
from ..errors import EXIT_INFRA, INFRA_CATEGORIES, ConfigError, HilError
from ..firmware.library_history import library_history
from ..firmware.pins import resolve_pins
from ..report.summary import SummaryFigures, summary_html
from . import hookspecs, worker_summary
from .badinput import refuse, refuse_in_test, refused
from .bench_id import bench_id
from .config import listing_only, resolve_config
from .preflight import preflight
from .state import device_summary, reference_notes, session_results
from .suite_metrics import load_suite_gates
from .workers import check_board_count

pytest_plugins = ["harness.plugin.fixtures", "harness.plugin.packaged"]


_failures = pytest.StashKey[list[tuple[str, str, str]]]()
_instance = pytest.StashKey[str]()
_worker_summaries = pytest.StashKey[list[dict[str, Any]]]()  # pytest -n: in the controller
_bad_config = pytest.StashKey[ConfigError]()  # met while tests were generated


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(hookspecs)


def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("tflm-hil", "hardware-in-the-loop tests of TFLM models")
    add = g.addoption
    add(
        "--board",
        default="sim:nano33",
        help="catalog board id (nano33), sim:<id> for its simulated twin, qemu:<id> for its "
        "emulation, labgrid:PLACE for a place of the lab at $LG_COORDINATOR, mlperf:PORT for "
        "an MLPerf Tiny DUT [sim:nano33]",
    )
    add("--port", help="serial port or pyserial URL of the board (default: discovered)")
    add("--board-serial", help="USB serial number choosing one of several boards")
    add("--model", help="the int8 .tflite under test (default: ini hil_model)")
    add("--vectors", help=".npz test vectors (default: generated over the input range)")
    add("--reference", help="float reference model: .keras, .h5 or float .tflite")
    add(
        "--gates",
        help="validation gates file (default: <model>.gates.toml or gates.toml beside it)",
    )
    add("--arena", type=int, help="tensor arena bytes (default: measured + margin)")
    add("--lock-timeout", type=float,
        help="seconds to wait for a board (or labgrid place) another run holds "
        "[$TFLM_HIL_LOCK_TIMEOUT or 600]")
    add("--reflash", action="store_true", help="flash even if the image is current")
    add("--no-flash", action="store_true", help="never flash; refuse a stale image")
    add("--link-baud", type=int,
        help="twin: simulate a UART at this baud rate; mlperf:PORT: the DUT's baud rate")
    add("--mlperf-model", metavar="ID",
        help="mlperf:PORT: the benchmark the model belongs to (ic01, kws01, vww01) when it is "
        "not a published MLPerf Tiny model")
    add("--bench-runs", type=int, default=50, help="timed inferences per latency benchmark [50]")
    add("--bench-warmup", type=int, default=5, help="untimed inferences before them [5]")
    add(
        "--property-examples",
        type=int,
        default=40,
        help="hypothesis-generated vectors per property test [40]",
    )
    add("--hil-log-dir", default="reports/logs", help="device and link logs [reports/logs]")
    add(
        "--hil-db",
        default=None,
        help="results store (SQLite) [$TFLM_HIL_DB or .tflm-hil/results.sqlite]; "
        "'none': keep no history",
    )
    parser.addini("hil_model", "model used when --model is not given (relative to rootdir)")
    parser.addini("hil_vectors", "vectors of the ini model (ignored when --model is given)")
    parser.addini("hil_reference", "float reference of the ini model (ignored with --model)")


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_failures] = []
    report = getattr(config.option, "htmlpath", None)
    if report and not hasattr(config, "workerinput"):  # the report this run will replace
        runlog.mark_stale(Path(config.invocation_params.dir, report))
    config.pluginmanager.register(_FailureLog(config.stash[_failures]), "tflm-hil-failures")
    config.addinivalue_line("markers", "hil: runs against a device (a real board or its twin)")
    # pyserial's RFC 2217 client (a labgrid place's port) names its reader thread the old way
    config.addinivalue_line("filterwarnings", "ignore::DeprecationWarning:serial.rfc2217")


def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    """Checks every input (harness/plugin/preflight.py) and the pins before anything is built
    or flashed, if any test needs a device or the pin gate: bad input ends the run in one
    line, exit 4, nothing recorded."""
    if _bad_config in config.stash:
        raise refuse(config, config.stash[_bad_config]) from None
    needs = {"dut", "pin_compat"}
    wanted = any(needs & set(getattr(item, "fixturenames", ())) for item in items)
    if wanted and not listing_only(config):
        try:
            hil = resolve_config(config)
            config.stash[_instance] = hil.instance
            preflight(hil)
            resolve_pins()
            library_history()
        except ConfigError as exc:
            raise refuse(config, exc) from None


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    config = session.config
    try:
        check_board_count(config)
    except ConfigError as exc:
        raise pytest.UsageError(f"tflm-hil: {exc}") from None
    # pytest -n: the controller collects nothing, and a worker's refusal is an INTERNALERROR;
    # the inputs are checked here, once, before any worker starts
    controller = getattr(config.option, "numprocesses", None) and not hasattr(config, "workerinput")
    named = config.option.model or config.getini("hil_model")
    if controller and named and not listing_only(config):
        try:
            preflight(resolve_config(config))
        except ConfigError as exc:
            raise refuse(config, exc) from None


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Every test of a HIL run says which board ran it: with pytest -n the merged JUnit file
    holds several workers' boards (harness/plugin/workers.py)."""
    instance = item.config.stash.get(_instance, None)
    if instance:
        item.user_properties.append(("board_instance", instance))


def _parametrized_by_the_test(metafunc: pytest.Metafunc, name: str) -> bool:
    """Whether the test's own ``parametrize`` marks name ``name`` (then they decide)."""
    for mark in metafunc.definition.iter_markers("parametrize"):
        names = mark.args[0] if mark.args else mark.kwargs.get("argnames", ())
        if isinstance(names, str):
            names = [n.strip() for n in names.split(",")]
        if name in names:
            return True
    return False


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test that takes ``gate`` runs once per validation gate of the session, one that takes
    ``device_kind`` once with the board and its figures' provenance (the suite's tests, and
    a user's own). A bad option or gates file is kept and refused in one line once
    collection ends (raised here, it would be a collection error with a traceback)."""
    config = metafunc.config
    if listing_only(config):  # pytest --fixtures: no test runs, no model is needed
        return
    try:
        if "gate" in metafunc.fixturenames and not _parametrized_by_the_test(metafunc, "gate"):
            hil = resolve_config(config)
            gates = load_suite_gates(hil.model, hil.gates)
            metafunc.parametrize("gate", list(gates.values()), ids=list(gates), scope="session")
        if "device_kind" in metafunc.fixturenames and not _parametrized_by_the_test(
            metafunc, "device_kind"
        ):
            # the benchmark's name carries the model, the board and its figures' provenance
            # (measured, emulated, estimated): pytest-benchmark compares runs by name, so two
            # models, or figures of two provenances, never meet
            kind = bench_id(resolve_config(config))
            metafunc.parametrize("device_kind", [kind], ids=[kind])
    except ConfigError as exc:
        config.stash.setdefault(_bad_config, exc)


@pytest.hookimpl(trylast=True)
def pytest_tflm_hil_make_driver(
    spec: BoardSpec, options: DriverOptions, config: pytest.Config, kind: BoardKind
) -> BoardDriver:
    reporter = config.pluginmanager.get_plugin("terminalreporter")

    def progress(line: str) -> None:  # builds and uploads take minutes: show where they are
        if reporter is not None:
            reporter.write_line(f"tflm-hil: {line}")

    if options.place:
        from ..lab.driver import LabgridDriver
        from ..lab.place import describe_place

        return LabgridDriver(spec, options, describe_place(options.place), progress=progress)
    if kind is BoardKind.SIM:
        from ..sim.driver import SimDriver

        return SimDriver(spec, options)
    if kind is BoardKind.MLPERF:
        from ..mlperf.driver import MlperfDriver

        return MlperfDriver(spec, options)
    if kind is BoardKind.QEMU:
        from ..emu.driver import QemuDriver

        return QemuDriver(spec, options, progress=progress)
    from ..pio.driver import PioDriver

    return PioDriver(spec, options, progress=progress)


# ---- reporting ----------------------------------------------------------------------------


def pytest_report_header(config: pytest.Config) -> list[str]:
    opt = config.option
    model = opt.model or config.getini("hil_model") or "(none)"
    return [f"tflm-hil: board {opt.board}, model {model}"]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    exc = call.excinfo.value if call.excinfo else None
    if isinstance(exc, ConfigError) and report.failed:
        refuse_in_test(item, report, exc)
        return report
    if isinstance(exc, HilError) and report.failed:
        report.user_properties.append(("failure_category", exc.category))
        # JUnit XML takes a test's properties from the item: a setup error's category too
        item.user_properties.append(("failure_category", exc.category))
        report.sections.append(("tflm-hil", f"failure category: {exc.category}"))
        # read back in pytest_runtest_logreport, which xdist's controller runs too
        report.tflm_hil_failure = (exc.category, str(exc))  # type: ignore[attr-defined]
        if exc.category in INFRA_CATEGORIES:  # the message here, the traceback in the log
            log_dir = Path(item.config.invocation_params.dir, item.config.option.hil_log_dir)
            log = runlog.keep_traceback(log_dir, item.nodeid, str(report.longrepr))
            # "E   " lines, as pytest shows an exception's (the matrix reads them from JUnit)
            said = f"[{exc.category}] {exc or type(exc).__name__}".splitlines()
            text = "\n".join([*(f"E   {ln}" for ln in said), f"(traceback: {log})"])
            report.longrepr = _InfraRepr(text, getattr(report.longrepr, "reprcrash", None))  # type: ignore[assignment]
        if report.when == "setup" and exc.category in INFRA_CATEGORIES:
            # no device: every later test would fail the same way; stop, once, with the cause
            item.session.shouldstop = f"tflm-hil: no device to test ({exc.category}): {exc}"
    return report


class _InfraRepr:
    """An infrastructure failure as the terminal and the report show it: the message (a build
    failure's goes on with the compiler's first errors) and the log that holds the traceback.
    ``reprcrash`` stays pytest's, so JUnit's message is the exception's, as before."""

    def __init__(self, text: str, reprcrash: object):
        self.text = text
        self.reprcrash = reprcrash

    def toterminal(self, tw) -> None:
        tw.line(self.text)

    def __str__(self) -> str:
        return self.text


class _FailureLog:
    """Failures by category, in this process or (pytest -n) in xdist's controller from the
    workers' reports: the summary lists them and an infrastructure failure sets the exit
    status, whichever process ran the test."""

    def __init__(self, failures: list[tuple[str, str, str]]):
        self.failures = failures

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        failure = getattr(report, "tflm_hil_failure", None)
        if failure and report.failed:
            category, message = failure
            self.failures.append((report.nodeid, str(category), str(message)))


def pytest_html_report_title(report) -> None:
    opt = report.config.option if hasattr(report, "config") else None
    report.title = "tflm-hil report" + (f": {opt.board}" if opt else "")


def summary_figures(results: dict) -> SummaryFigures:
    """The summary's plain values from the session's results (an OutputComparisons, a
    Latency): the report draws them and never sees the objects."""
    validation, latency = results.get("validation"), results.get("latency")
    metrics: dict[str, float] = {}
    errors = confusion = None
    if validation is not None:
        metrics.update(validation.metrics)
        comparison = validation.find("float") or validation.find("host")
        if comparison is not None and comparison.errors_steps is not None:
            errors = (comparison.errors_steps, comparison.reference)
        confusions = [(c.confusion, ref) for ref in ("labels", "float")
                      if (c := validation.find(ref)) is not None and c.confusion is not None]
        confusion = confusions[0] if confusions else None
    if latency is not None:
        metrics.update(latency.metrics())
        return SummaryFigures(metrics, latency.seconds * 1e6, latency.provenance, errors,
                              confusion, results.get("latency_band_us"))
    return SummaryFigures(metrics, errors=errors, confusion=confusion)


def _summary(config: pytest.Config) -> tuple[dict[str, str], dict[str, str], SummaryFigures]:
    """This session's device table, reference notes and figures; with pytest -n, in xdist's
    controller, the workers' folded (harness/plugin/worker_summary.py)."""
    workers = config.stash.get(_worker_summaries, [])
    if workers:
        return worker_summary.fold(workers)
    figures = summary_figures(session_results(config))
    return device_summary(config), reference_notes(config), figures


@pytest.hookimpl(optionalhook=True)  # xdist's hook: a worker ended, with its workeroutput
def pytest_testnodedown(node: Any, error: Any) -> None:
    summary = getattr(node, "workeroutput", {}).get(worker_summary.KEY)
    if summary:
        node.config.stash.setdefault(_worker_summaries, []).append(summary)


def pytest_html_results_summary(prefix: list, summary: list, postfix: list, session) -> None:
    prefix.extend(summary_html(*_summary(session.config)))


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    device, references, _ = _summary(config)
    if device:
        terminalreporter.section("tflm-hil device")
        for key, value in device.items():
            terminalreporter.write_line(f"{key:>13}: {value}")
    for name, note in references.items():
        terminalreporter.write_line(f"{'reference':>13}: {name} {note}")
    failures = config.stash.get(_failures, [])
    if failures:
        terminalreporter.section("tflm-hil failures by category")
        for nodeid, category, message in failures:
            kind = "infrastructure" if category in INFRA_CATEGORIES else category
            first = message.splitlines()[0] if message else ""
            terminalreporter.write_line(f"[{category}] ({kind}) {nodeid}: {first}")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    if refused(config):
        session.exitstatus = pytest.ExitCode.USAGE_ERROR
        return
    workeroutput = getattr(config, "workeroutput", None)  # an xdist worker's, for the controller
    if workeroutput is not None and device_summary(config):
        figures = summary_figures(session_results(config))
        workeroutput[worker_summary.KEY] = worker_summary.to_plain(
            config.stash.get(_instance, ""), device_summary(config), reference_notes(config),
            figures,
        )
    failures = config.stash.get(_failures, [])
    if any(cat in INFRA_CATEGORIES for _, cat, _ in failures):
        session.exitstatus = EXIT_INFRA
