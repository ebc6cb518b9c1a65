"""The tflm-hil pytest plugin: options, session fixtures, failure classification.

Registered through the ``pytest11`` entry point, so ``pytest --board=nano33`` works in any
project that installs tflm-hil. The default board is the simulated twin (``sim:nano33``),
so a plain ``pytest`` needs no hardware.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from . import hookspecs
from .boards.catalog import BoardSpec, resolve_board
from .boards.driver import BoardDriver, DriverOptions
from .dut import Dut, open_dut
from .errors import INFRA_CATEGORIES, ConfigError, HilError
from .model.reference import FloatReference, HostTflm
from .model.tflite_info import TfliteModel
from .model.vectors import Vectors, generate_vectors, load_vectors
from .protocol.messages import Result
from .results.store import ResultsStore, default_db_path

# Exit status of a run whose failures include infrastructure faults (build, flash, link,
# timeout, device): the model was not judged. pytest's own codes stop at 5.
EXIT_INFRA = 6
DEFAULT_GENERATED_VECTORS = 64

_failures = pytest.StashKey[list[tuple[str, str, str]]]()
_device_info = pytest.StashKey[dict[str, str]]()
_store = pytest.StashKey["RunRecorder | None"]()


class RunRecorder:
    """Writes this session's run, results and figures to the results store as they happen."""

    def __init__(self, store: ResultsStore):
        self.store = store
        self.run_id: int | None = None

    def metric(
        self,
        name: str,
        value: float,
        *,
        nodeid: str | None = None,
        unit: str = "",
        estimated: bool = False,
    ) -> None:
        if self.run_id is not None:
            self.store.add_metric(
                self.run_id, name, value, nodeid=nodeid, unit=unit, estimated=estimated
            )


@dataclass(frozen=True)
class HilConfig:
    board_name: str
    spec: BoardSpec
    simulated: bool
    model: Path
    vectors: Path | None
    reference: Path | None
    driver_options: DriverOptions


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(hookspecs)


def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("tflm-hil", "hardware-in-the-loop tests of TFLM models")
    g.addoption(
        "--board",
        default="sim:nano33",
        help="catalog board id (nano33), or sim:<id> for its simulated twin [sim:nano33]",
    )
    g.addoption("--port", help="serial port or pyserial URL of the board (default: discovered)")
    g.addoption("--board-serial", help="USB serial number choosing one of several boards")
    g.addoption("--model", help="the int8 .tflite under test (default: ini hil_model)")
    g.addoption("--vectors", help=".npz test vectors (default: generated over the input range)")
    g.addoption("--reference", help="float reference model: .keras, .h5 or float .tflite")
    g.addoption("--arena", type=int, help="tensor arena bytes (default: measured + margin)")
    g.addoption("--reflash", action="store_true", help="flash even if the image is current")
    g.addoption("--no-flash", action="store_true", help="never flash; refuse a stale image")
    g.addoption("--link-baud", type=int, help="twin only: simulate a UART at this baud rate")
    g.addoption("--hil-log-dir", default="reports/logs", help="device and link logs [reports/logs]")
    g.addoption(
        "--hil-db",
        default=None,
        help="results store (SQLite) [$TFLM_HIL_DB or .tflm-hil/results.sqlite]; "
        "'none' keeps no history",
    )
    parser.addini("hil_model", "model used when --model is not given (relative to rootdir)")
    parser.addini("hil_vectors", "vectors of the ini model (ignored when --model is given)")
    parser.addini("hil_reference", "float reference of the ini model (ignored with --model)")


def _path(base: Path, value: str | None) -> Path | None:
    if not value:
        return None
    p = Path(value)
    return p if p.is_absolute() else base / p


def resolve_config(config: pytest.Config) -> HilConfig:
    """Reads and checks the options; every problem is a ConfigError naming the fix."""
    opt = config.option
    spec, simulated = resolve_board(opt.board)
    cwd, root = config.invocation_params.dir, config.rootpath
    if opt.model:  # --model replaces the ini's example: its vectors and reference go with it
        paths = [_path(cwd, v) for v in (opt.model, opt.vectors, opt.reference)]
    else:
        ini = [_path(root, config.getini(k)) for k in ("hil_model", "hil_vectors", "hil_reference")]
        if ini[0] is None:
            raise ConfigError(
                "no model to test: pass --model PATH.tflite (or set hil_model in the ini)"
            )
        paths = [ini[0], _path(cwd, opt.vectors) or ini[1], _path(cwd, opt.reference) or ini[2]]
    if opt.reflash and opt.no_flash:
        raise ConfigError("--reflash and --no-flash contradict each other: pass one of them")
    if simulated and (opt.port or opt.board_serial):
        raise ConfigError(
            f"{opt.board} is simulated: --port and --board-serial are for real boards"
        )
    for label, p in zip(("model", "vectors", "reference"), paths, strict=True):
        if p is not None and not p.is_file():
            raise ConfigError(f"the {label} file {p} does not exist: check --{label}")
    assert paths[0] is not None
    options = DriverOptions(
        port=opt.port,
        board_serial=opt.board_serial,
        arena=opt.arena,
        reflash=opt.reflash,
        no_flash=opt.no_flash,
        log_dir=_path(cwd, opt.hil_log_dir),
        baud=opt.link_baud,
    )
    return HilConfig(opt.board, spec, simulated, paths[0], paths[1], paths[2], options)


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_failures] = []
    config.stash[_device_info] = {}
    config.stash[_store] = None
    config.pluginmanager.register(_ResultsWriter(config), "tflm-hil-results")
    config.addinivalue_line("markers", "hil: runs against a device (a real board or its twin)")


def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    """Checks the options before anything is built or flashed, if any test needs a device."""
    if any("dut" in getattr(item, "fixturenames", ()) for item in items):
        try:
            TfliteModel.load(resolve_config(config).model)
        except ConfigError as exc:
            raise pytest.UsageError(f"tflm-hil: {exc}") from None


@pytest.hookimpl(trylast=True)
def pytest_tflm_hil_make_driver(
    spec: BoardSpec, simulated: bool, options: DriverOptions
) -> BoardDriver:
    if simulated:
        from .sim.driver import SimDriver

        return SimDriver(spec, options)
    from .boards.pio_driver import PioDriver

    return PioDriver(spec, options)


# ---- fixtures ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def hil_config(pytestconfig: pytest.Config) -> HilConfig:
    return resolve_config(pytestconfig)


@pytest.fixture(scope="session")
def hil_model(hil_config: HilConfig) -> TfliteModel:
    return TfliteModel.load(hil_config.model)


@pytest.fixture(scope="session")
def hil_vectors(hil_config: HilConfig, hil_model: TfliteModel) -> Vectors:
    if hil_config.vectors is None:
        return generate_vectors(hil_model, DEFAULT_GENERATED_VECTORS)
    return load_vectors(hil_config.vectors, hil_model)


@pytest.fixture(scope="session")
def hil_driver(pytestconfig: pytest.Config, hil_config: HilConfig) -> Iterator[BoardDriver]:
    driver = pytestconfig.hook.pytest_tflm_hil_make_driver(
        spec=hil_config.spec, simulated=hil_config.simulated, options=hil_config.driver_options
    )
    yield driver
    driver.close()


@pytest.fixture(scope="session")
def dut(
    pytestconfig: pytest.Config,
    hil_config: HilConfig,
    hil_driver: BoardDriver,
    hil_model: TfliteModel,
    record_testsuite_property,
) -> Iterator[Dut]:
    """The device under test, flashed with the model and handshaken."""
    recorder = _recorder(pytestconfig)
    if recorder:
        recorder.run_id = recorder.store.start_run(
            board=hil_config.board_name,
            simulated=hil_config.simulated,
            model_path=str(hil_config.model),
            model_hash=hil_model.sha256,
        )
    device = open_dut(hil_driver, hil_model, hil_config.driver_options.log_dir)
    info = device.info
    if recorder and recorder.run_id is not None:
        recorder.store.set_device(
            recorder.run_id,
            image_hash=info.image_hash,
            fw_version=info.fw_version,
            tflm_version=info.tflm_version,
            core_version=info.core_version,
        )
        sized = device.image.estimated
        recorder.metric("arena_used_bytes", info.arena_used, unit="B")
        recorder.metric("arena_size_bytes", info.arena_size, unit="B")
        recorder.metric("flash_bytes", device.image.flash_bytes, unit="B", estimated=sized)
        recorder.metric("ram_bytes", device.image.ram_bytes, unit="B", estimated=sized)
    kind = "simulated" if info.simulated else "real"
    estimated = " (latency estimated)" if info.clock_estimated else ""
    figures = {
        "board": f"{hil_config.board_name} ({info.board}, {kind})",
        "firmware": info.fw_version,
        "tflm": info.tflm_version,
        "arduino_core": info.core_version,
        "model_hash": info.model_hash,
        "image_hash": info.image_hash,
        "arena_used": f"{info.arena_used} of {info.arena_size} bytes",
        "clock": f"{info.clock_hz / 1e6:g} MHz{estimated}",
    }
    pytestconfig.stash[_device_info].update(figures)
    for key, value in figures.items():
        record_testsuite_property(key, value)
    yield device
    device.close()


@pytest.fixture(scope="session")
def device_run(dut: Dut, hil_vectors: Vectors) -> tuple[list[np.ndarray], list[Result]]:
    """Every vector streamed through the device once, shared by the tests that judge it."""
    return dut.infer_vectors(hil_vectors)


@pytest.fixture(scope="session")
def host_outputs(hil_model: TfliteModel, hil_vectors: Vectors) -> list[np.ndarray]:
    """The TFLM host runtime's outputs for every vector: the bit-exact reference."""
    return HostTflm(hil_model).run(hil_vectors.inputs)


@pytest.fixture
def hil_record(request: pytest.FixtureRequest, record_property):
    """Records a figure: in the report (a property) and, at once, in the results store."""

    def record(name: str, value: float, *, unit: str = "", estimated: bool = False) -> None:
        record_property(name, value)
        recorder = _recorder(request.config)
        if recorder:
            recorder.metric(name, value, nodeid=request.node.nodeid, unit=unit, estimated=estimated)

    return record


def _recorder(config: pytest.Config) -> RunRecorder | None:
    """The session's recorder, opened on first use (unit-test sessions never create a store)."""
    if config.stash[_store] is None:
        value = config.option.hil_db
        if value == "none":
            return None
        path = Path(value) if value else default_db_path(config.rootpath)
        config.stash[_store] = RunRecorder(ResultsStore(path))
    return config.stash[_store]


@pytest.fixture(scope="session")
def float_reference(hil_config: HilConfig) -> FloatReference | None:
    return FloatReference.load(hil_config.reference) if hil_config.reference else None


# ---- reporting --------------------------------------------------------------------------


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
    if isinstance(exc, HilError) and report.failed:
        report.user_properties.append(("failure_category", exc.category))
        report.sections.append(("tflm-hil", f"failure category: {exc.category}"))
        item.config.stash[_failures].append((item.nodeid, exc.category, str(exc)))
    return report


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    info = config.stash.get(_device_info, {})
    if info:
        terminalreporter.section("tflm-hil device")
        for key, value in info.items():
            terminalreporter.write_line(f"{key:>13}: {value}")
    failures = config.stash.get(_failures, [])
    if failures:
        terminalreporter.section("tflm-hil failures by category")
        for nodeid, category, message in failures:
            kind = "infrastructure" if category in INFRA_CATEGORIES else category
            terminalreporter.write_line(
                f"[{category}] ({kind}) {nodeid}: {message.splitlines()[0]}"
            )


class _ResultsWriter:
    """Writes each test's outcome to the store when its report is made (a plugin object, so the
    hook knows the session's config)."""

    def __init__(self, config: pytest.Config):
        self.config = config

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        recorder = self.config.stash[_store]
        if recorder is None or recorder.run_id is None:
            return
        if report.when == "call" or (report.when == "setup" and not report.passed):
            outcome = "error" if report.when == "setup" and report.failed else report.outcome
            category = dict(report.user_properties).get("failure_category")
            text = report.longreprtext if report.failed else ""
            recorder.store.add_result(
                recorder.run_id,
                report.nodeid,
                outcome,
                category=str(category) if category else None,
                message=text.strip().splitlines()[-1] if text else "",
                duration=report.duration,
            )


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    failures = session.config.stash.get(_failures, [])
    if any(cat in INFRA_CATEGORIES for _, cat, _ in failures):
        session.exitstatus = EXIT_INFRA
    recorder = session.config.stash.get(_store, None)
    if recorder and recorder.run_id is not None:
        recorder.store.finish_run(recorder.run_id, int(session.exitstatus))
        recorder.store.close()
