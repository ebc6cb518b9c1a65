"""Session fixtures of the HIL suite: the model, its vectors, the device and the references.

Each is computed once per session; the references are cached across sessions by content.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence

import numpy as np
import pytest

from ..boards.driver import BoardDriver
from ..dut import Dut, open_dut
from ..firmware.compat import Finding, check_model
from ..firmware.pins import resolve_pins
from ..latency import Latency, measure_latency
from ..latency_model.estimate import estimate
from ..metrics.gates import Gate
from ..metrics.validation import OutputComparisons, validate
from ..model.cache import cached, file_digest, package_version, vectors_digest
from ..model.reference import FloatReference, align_outputs
from ..protocol.messages import Result
from ..provenance import Provenance
from ..tflite.model import TfliteModel
from ..tflite.runtime import HostTflm
from ..tflite.vectors import Vectors, generate_vectors, load_vectors
from .config import HilConfig, resolve_config
from .recorder import RunRecorder, recorder
from .state import device_summary, reference_notes, session_results
from .suite_metrics import load_suite_gates, memory_figures
from .workers import run_argv, run_labels

log = logging.getLogger("harness")


@pytest.fixture(scope="session")
def hil_config(pytestconfig: pytest.Config) -> HilConfig:
    """The session's checked options: board, model, vectors, reference, gates, driver options."""
    return resolve_config(pytestconfig)


@pytest.fixture(scope="session")
def hil_model(hil_config: HilConfig) -> TfliteModel:
    """The model under test (--model), parsed: tensors, ops, quantisation, ``sha256``."""
    return TfliteModel.load(hil_config.model)


@pytest.fixture(scope="session")
def hil_vectors(hil_config: HilConfig, hil_model: TfliteModel) -> Vectors:
    """The test vectors (--vectors), or vectors generated over the input range, edges included."""
    if hil_config.vectors is None:
        return generate_vectors(hil_model)
    return load_vectors(hil_config.vectors, hil_model)


@pytest.fixture(scope="session")
def hil_gates(hil_config: HilConfig) -> dict[str, Gate]:
    """The validation gates by name (--gates, <model>.gates.toml or gates.toml beside it)."""
    return load_suite_gates(hil_config.model, hil_config.gates)


@pytest.fixture(scope="session")
def board(
    pytestconfig: pytest.Config, hil_config: HilConfig, hil_model: TfliteModel
) -> Iterator[BoardDriver]:
    """The board: its catalog entry (``board.spec``), whether it is a twin
    (``board.simulated``), and the driver that builds, flashes and links to it."""
    # The run is recorded from the first test that needs the board, whatever the order:
    # a test that does not open the device (the pin gate) is recorded too.
    rec = recorder(pytestconfig)
    if rec and rec.run_id is None:
        rec.run_id = rec.store.start_run(
            board=hil_config.board_name,
            simulated=hil_config.simulated,
            model_path=str(hil_config.model),
            model_hash=hil_model.sha256,
            labels=run_labels(pytestconfig, hil_config.instance),
            argv=run_argv(pytestconfig),
        )
    driver = pytestconfig.hook.pytest_tflm_hil_make_driver(
        spec=hil_config.spec,
        simulated=hil_config.simulated,
        options=hil_config.driver_options,
        config=pytestconfig,
        kind=hil_config.kind,
    )
    yield driver
    driver.close()


@pytest.fixture(scope="session")
def dut(
    pytestconfig: pytest.Config,
    hil_config: HilConfig,
    board: BoardDriver,
    hil_model: TfliteModel,
    record_testsuite_property,
) -> Iterator[Dut]:
    """The device under test, flashed with the model and handshaken."""
    rec = recorder(pytestconfig)
    device = open_dut(board, hil_model, hil_config.driver_options.log_dir)
    if rec and rec.run_id is not None:
        _record_device(rec, rec.run_id, device)
    summary = device_summary(pytestconfig)
    summary.update(describe_device(hil_config.board_name, device))
    for key, value in summary.items():
        record_testsuite_property(key, value)
    yield device
    device.close()


@pytest.fixture
def described_dut(dut: Dut, board: BoardDriver) -> Dut:
    """The device, for a test of the figures our firmware reports about itself (protocol,
    arena, stack, per-operator counts, image sizes); an MLPerf Tiny DUT reports none of them."""
    if not board.describes_itself:
        pytest.skip(
            f"{board.spec.name} reports only a benchmark id: no protocol version, arena, stack, "
            "per-operator counts or image sizes to check"
        )
    return dut


def _record_device(rec: RunRecorder, run_id: int, device: Dut) -> None:
    info = device.info
    rec.store.set_device(
        run_id,
        image_hash=info.image_hash,
        fw_version=info.fw_version,
        tflm_version=info.tflm_version,
        core_version=info.core_version,
    )
    for name, figure in memory_metrics(device).items():
        # the device's own figures (arena, stack) and the image's sizes: both are the board's
        # only on the board itself; the twin estimates them, QEMU emulates them
        rec.metric(name, figure, unit="B", provenance=info.provenance)


def describe_device(board_name: str, device: Dut) -> dict[str, str]:
    """The device's figures for the report's summary and the JUnit suite properties."""
    info, image = device.info, device.image
    kind = {"estimated": "simulated", "emulated": "emulated", "measured": "real"}
    described = {
        "board": f"{board_name} ({info.board}, {kind[info.provenance]})",
        "firmware": info.fw_version,
        "tflm": info.tflm_version,
        "arduino_core": info.core_version,
        "model_hash": info.model_hash,
        "image_hash": info.image_hash,
        "arena_used": f"{info.arena_used} of {info.arena_size} bytes",
        "flash/ram": f"{image.flash_bytes} / {image.ram_bytes} bytes ({image.provenance})",
        "clock": f"{info.clock_hz / 1e6:g} MHz (latency {info.provenance.note})",
    }
    if not device.driver.describes_itself:  # an MLPerf Tiny DUT: only what it reports
        for key in ("tflm", "arduino_core", "arena_used", "flash/ram"):
            del described[key]
        described["clock"] = f"the DUT's m-lap-us microseconds (latency {info.provenance.note})"
    for n, warning in enumerate(image.extra.get("warnings", []), 1):
        described[f"warning {n}"] = warning
    return described


@pytest.fixture(scope="session")
def pin_compat(
    pytestconfig: pytest.Config, board: BoardDriver, hil_model: TfliteModel
) -> list[Finding]:
    """The known issues of the board's pinned TFLM library (harness/data/tflm_known_issues.toml)
    that the model runs into, for a board that does not compute with that library itself (the
    simulated twin); each is also a warning in the report's device section."""
    if board.pinned_library:
        return []
    findings = check_model(hil_model, resolve_pins())
    summary = device_summary(pytestconfig)
    for n, finding in enumerate(findings, 1):
        summary["pin_compat" + (f" {n}" if len(findings) > 1 else "")] = (
            f"WARNING: {finding.message()}"
        )
    return findings


@pytest.fixture(scope="session")
def device_run(dut: Dut, hil_vectors: Vectors) -> tuple[list[np.ndarray], Sequence[Result]]:
    """Every vector streamed through the device once, shared by the tests that judge it."""
    return dut.infer_vectors(hil_vectors)


@pytest.fixture(scope="session")
def host_outputs(
    pytestconfig: pytest.Config, hil_model: TfliteModel, hil_vectors: Vectors
) -> list[np.ndarray]:
    """The TFLM host runtime's outputs for every vector: the bit-exact reference."""
    key = [hil_model.sha256, vectors_digest(hil_vectors), package_version("tflite-micro")]
    outs, hit = cached("host-tflm", key, lambda: HostTflm(hil_model).run(hil_vectors.inputs))
    reference_notes(pytestconfig)["host TFLM"] = "reused from the cache" if hit else "computed"
    return outs


@pytest.fixture(scope="session")
def float_outputs(
    pytestconfig: pytest.Config, hil_config: HilConfig, hil_model: TfliteModel, hil_vectors: Vectors
) -> list[np.ndarray] | None:
    """The float reference's outputs for every vector, or None without a reference."""
    path = hil_config.reference
    if path is None:
        return None
    key = [
        file_digest(path),
        path.suffix,
        vectors_digest(hil_vectors),
        package_version("tensorflow-cpu", "tensorflow"),
        package_version("tflite-micro"),
    ]

    def compute() -> list[np.ndarray]:
        ref = FloatReference.load(path)  # imports TensorFlow for a Keras model
        return align_outputs(ref.run(hil_vectors.float_inputs(hil_model)), hil_model)

    outs, hit = cached("float", key, compute)
    reference_notes(pytestconfig)[f"float ({path.name})"] = (
        "reused from the cache" if hit else "computed"
    )
    return outs


@pytest.fixture(scope="session")
def validation(
    pytestconfig: pytest.Config,
    hil_model: TfliteModel,
    hil_vectors: Vectors,
    device_run,
    host_outputs,
    float_outputs,
) -> OutputComparisons:
    """Every comparison of the device's outputs; each figure is stored as soon as it exists."""
    result = validate(hil_model, hil_vectors, device_run[0], host_outputs, float_outputs)
    session_results(pytestconfig)["validation"] = result
    rec = recorder(pytestconfig)
    if rec:
        for name, value in result.metrics.items():
            rec.metric(name, value)
    return result


@pytest.fixture(scope="session")
def device_latency(pytestconfig: pytest.Config, dut: Dut, hil_vectors: Vectors) -> Latency:
    """Device cycle counts over --bench-runs inferences of the first vector, stored at once."""
    opt = pytestconfig.option
    latency = measure_latency(dut, hil_vectors.payload(0), opt.bench_runs, opt.bench_warmup)
    session_results(pytestconfig)["latency"] = latency
    if latency.provenance is Provenance.ESTIMATED:  # the report draws the estimate's band
        board = dut.image.board
        est = estimate(dut.model, board.cpu, board=board.id)
        session_results(pytestconfig)["latency_band_us"] = est.band_us(latency.clock_hz)
    rec = recorder(pytestconfig)
    if rec:
        for name, value in latency.metrics().items():
            unit = "cycles" if "cycles" in name else "us" if "_us_" in name else ""
            # the count of runs is exact; every figure derived from cycles has their provenance
            label = Provenance.MEASURED if name == "latency_runs" else latency.provenance
            rec.metric(name, value, unit=unit, provenance=label)
    return latency


def memory_metrics(dut: Dut) -> dict[str, float]:
    """The device's memory figures; none for a device that reports none (an MLPerf Tiny DUT):
    a gate on them is then not evaluated, and no zero is stored as if measured."""
    if not dut.driver.describes_itself:
        return {}
    info, image = dut.info, dut.image
    return memory_figures(
        info.arena_used, info.arena_size, image.flash_bytes, image.ram_bytes, info.stack_used
    )


@pytest.fixture
def hil_record(request: pytest.FixtureRequest, record_property) -> Callable[..., None]:
    """Records a figure: in the report (a JUnit property) and, at once, in the results store."""

    def record(
        name: str, value: float, *, unit: str = "", provenance: Provenance = Provenance.MEASURED
    ) -> None:
        record_property(name, value)
        rec = recorder(request.config)
        if rec:
            rec.metric(name, value, nodeid=request.node.nodeid, unit=unit, provenance=provenance)

    return record
