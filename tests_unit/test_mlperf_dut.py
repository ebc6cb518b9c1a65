"""The twin as an MLPerf Tiny DUT, per benchmark, judged by our reimplementation of the MLPerf
Tiny runner's documented behaviour (tests_unit/mlperf_runner.py); and the ``mlperf:PORT``
board driver driving that DUT through our client, vectors and references.

The models are synthetic, shaped as each benchmark's input (a published model is recognised
by its hash, tested in test_mlperf_benchmarks.py): ``--mlperf-model`` names the benchmark.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from harness.boards.catalog import BoardKind, load_catalog, resolve_board
from harness.boards.driver import DriverOptions
from harness.dut import open_dut
from harness.emu.image import EmuImageBuilder
from harness.emu.qemu import start_qemu
from harness.errors import ConfigError, FlashError
from harness.firmware.library import fetch_command, find_library
from harness.firmware.pins import resolve_pins
from harness.mlperf.driver import MlperfDriver
from harness.model.reference import HostTflm
from harness.paths import cache_dir
from harness.protocol.mlperf_benchmarks import Sample, benchmarks
from harness.sim.launcher import TwinProcess, launch
from harness.tflite.model import TfliteModel
from harness.tflite.synthetic import fc_model

from .conftest import DIGITS_MODEL, DIGITS_VECTORS
from .mlperf_runner import RunnerDut, accuracy, performance
from .test_hil_suite import run_suite

CLOCK_HZ = 64e6  # the Nano 33 BLE twin's clock


def _model(tmp: Path, name: str, input_bytes: int, units: int) -> TfliteModel:
    path = tmp / f"{name}.tflite"
    path.write_bytes(fc_model(input_bytes, units, seed=3))
    return TfliteModel.load(path)


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, TfliteModel]:
    tmp = tmp_path_factory.mktemp("mlperf-dut")
    return {"ic01": _model(tmp, "resnet_like", 3072, 10), "ad01": _model(tmp, "ae_like", 640, 640)}


def _twin(model: TfliteModel, bench: str, log: Path | None = None) -> TwinProcess:
    # --no-timing: replies at once; the m-lap-us still advance by the estimated cycles
    args = ["--board", "nano33", "--model", model.source, "--protocol", "mlperf", "--no-timing"]
    twin = launch([*args, *(["--mlperf-model", bench] if bench else [])], log)
    # a DUT booted well before the runner opens it, as in use: its boot banner is out, and
    # opening the port discards it (pyserial flushes input on open)
    time.sleep(0.5)
    return twin


@pytest.fixture(scope="module")
def ic_twin(models) -> Iterator[TwinProcess]:
    with _twin(models["ic01"], "ic01") as tw:
        yield tw


@pytest.fixture(scope="module")
def ad_twin(models, tmp_path_factory) -> Iterator[TwinProcess]:
    log = tmp_path_factory.mktemp("ad-log") / "twin.log"
    with _twin(models["ad01"], "ad01", log) as tw:
        yield tw


def _host(model: TfliteModel, tensor: np.ndarray) -> np.ndarray:
    return HostTflm(model).run((tensor.reshape(1, *model.inputs[0].shape),))[0][0]


def test_ic_dut_shifts_pixels_and_answers_the_runner(ic_twin, models) -> None:
    model, ic = models["ic01"], benchmarks()["ic01"]
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, 3072, dtype=np.uint8).tobytes() for _ in range(4)]
    dut = RunnerDut(ic_twin.port, boot_wait=0.1)
    try:
        assert dut.handshake() == "ic01"  # the runner looks its test script up by this id
        for image in images:
            dut.load(image)
            got = dut.infer(1, 0).results
            want = _host(model, ic.to_tensor(image, model.inputs[0]))  # the pixels - 128
            t = model.outputs[0]
            assert np.allclose(got, (want.astype(np.float64) - t.zero_point) * t.scale, atol=6e-4)
        median, loops = performance(dut, "ic01", Sample(Path("x"), 0, (images[0],)))
    finally:
        dut.close()
    # throughput from the DUT's own m-lap-us: the twin's estimate (its label says so)
    cycles = ic_twin.ready["cycles_per_invoke_estimated"]
    assert len(loops) == 5 and median == pytest.approx(CLOCK_HZ / cycles, rel=1e-3)


def test_ad_dut_quantizes_windows_and_scores_them_as_the_reference(ad_twin, models) -> None:
    model, ad = models["ad01"], benchmarks()["ad01"]
    rng = np.random.default_rng(1)
    samples = []
    for k in range(6):  # 3 normal files, 3 anomalous (larger values: larger errors), 2 windows
        spread = 0.3 if k % 2 == 0 else 1.2
        frames = rng.normal(0, spread, 6 * 128).astype("<f4").tobytes()
        samples.append(Sample(Path(f"f{k}"), k % 2, (frames[:2560], frames[512:3072])))
    dut = RunnerDut(ad_twin.port, boot_wait=0.1)
    try:
        assert dut.handshake() == "ad01"
        top1, auc, scores = accuracy(dut, samples)
    finally:
        dut.close()
    for sample, score in zip(samples, scores[:, 0], strict=True):
        want = np.mean(
            [ad.score(w, _host(model, ad.to_tensor(w, model.inputs[0])), model.outputs[0])
             for w in sample.windows]
        )  # fmt: skip
        assert score == pytest.approx(want, abs=1.5e-3)  # printed with 3 decimals
    # the anomalous files' larger errors score higher: the runner's AUC and Top-1 see it
    assert auc == 1.0 and top1 == pytest.approx(100.0)


def test_error_replies_are_logged(ad_twin) -> None:
    dut = RunnerDut(ad_twin.port, boot_wait=0.1)
    try:
        dut.command("db load 6000")  # past the 5,120-byte db buffer
        dut.command("infer 0")
    finally:
        dut.close()
    assert ad_twin.log_path is not None
    log = ad_twin.log_path.read_text()
    assert "e-[db load 6000 exceeds the buffer of 5120 bytes]" in log
    assert "e-[Inference iterations must be >0]" in log


def test_the_twin_refuses_a_model_of_another_benchmark(models) -> None:
    with pytest.raises(ConfigError, match="kws01 sends 490 int8 values"):
        _twin(models["ic01"], "kws01")


# ---- mlperf:PORT ------------------------------------------------------------------------


def _driver(port: str, **kw) -> MlperfDriver:
    spec, kind = resolve_board(f"mlperf:{port}")
    assert kind is BoardKind.MLPERF
    return MlperfDriver(spec, DriverOptions(port=port, **kw))


def test_mlperf_board_drives_the_dut_like_our_own(ic_twin, models) -> None:
    model = models["ic01"]
    driver = _driver(ic_twin.port, mlperf_model="ic01")
    dut = open_dut(driver, model)
    try:
        rng = np.random.default_rng(2)
        x = rng.integers(-128, 128, (5, 3072), dtype=np.int8)
        for row in x:  # our vectors are the int8 tensor: the driver sends them as pixels
            (got,) = dut.infer(row.reshape(model.inputs[0].shape))
            assert np.array_equal(got.reshape(-1), _host(model, row).reshape(-1))
        result = dut.benchmark(x[0].tobytes(), runs=3, warmup=1)
    finally:
        dut.close()
    cycles = ic_twin.ready["cycles_per_invoke_estimated"]
    assert len(result.cycles) == 3  # one m-lap-us pair per run, in microseconds
    assert all(abs(us - cycles / CLOCK_HZ * 1e6) <= 1 for us in result.cycles)
    assert dut.info.provenance == driver.provenance == "measured"  # by the DUT, it says


def test_mlperf_board_refuses_a_dut_of_another_benchmark(ic_twin, models, tmp_path) -> None:
    other = _model(tmp_path, "kws_like", 490, 12)
    driver = _driver(ic_twin.port, mlperf_model="kws01")
    with pytest.raises(FlashError, match="runs 'ic01', the model under test is 'kws01'"):
        open_dut(driver, other)


def test_mlperf_board_refuses_anomaly_detection(models) -> None:
    with pytest.raises(ConfigError, match="one anomaly score"):
        _driver("/dev/null", mlperf_model="ad01").build(models["ad01"])


# ---- the MLPerf DUT firmware on the emulated board ---------------------------------------

REF = resolve_pins().tflm_ref


@pytest.mark.skipif(
    find_library(REF) is None,
    reason=f"the TFLM library at {REF[:12]} is not in {cache_dir()}: run `{fetch_command(REF)}`",
)
def test_mlperf_firmware_on_the_emulated_board_answers_the_runner(tmp_path) -> None:
    """The firmware env nano33ble_mlperf (src/mlperf/mlperf_main.cpp, the board's TFLM library)
    built for QEMU: the runner's handshake, one sample per accuracy step, the TFLM host
    runtime's answer, and the emulated board's m-lap-us."""
    spec = load_catalog()["nano33"]
    builder = EmuImageBuilder(spec, label="qemu:nano33 mlperf", mlperf=True)  # cached image
    model = TfliteModel.load(DIGITS_MODEL)
    image = builder.build(model)
    assert spec.emulation is not None and image.path is not None
    qemu = start_qemu(image.path, spec.emulation.machine, tmp_path / "qemu.log", "mlperf")
    try:
        time.sleep(1.0)  # booted, banner out: opening the port discards it
        dut = RunnerDut(qemu.port, boot_wait=0.1)
        try:
            assert dut.handshake() == f"sha256-{model.sha256[:16]}"  # not a benchmark: its hash
            x = np.load(DIGITS_VECTORS)["x"][:3].astype(np.int8)
            for row in x:
                dut.load(row.tobytes())
                reply = dut.infer(1, 0)
                want = _host(model, row)
                t = model.outputs[0]
                values = (want.astype(np.float64).reshape(-1) - t.zero_point) * t.scale
                assert np.allclose(reply.results, values, atol=6e-4)
                assert reply.elapsed_us > 0  # the emulated counter at the board's clock
        finally:
            dut.close()
    finally:
        qemu.stop()


def test_the_suite_runs_on_an_mlperf_dut(tmp_path) -> None:
    """``pytest tests_hil --board=mlperf:PORT`` against the twin's MLPerf personality: every
    vector bit-exact, latency from its m-lap-us, our own figures' tests skipped, saying why."""
    with _twin(TfliteModel.load(DIGITS_MODEL), "", None) as twin:
        run = run_suite(tmp_path, f"--board=mlperf:{twin.port}", "--model", str(DIGITS_MODEL),
                        "--vectors", str(DIGITS_VECTORS), "-rs", "-p", "no:randomly")  # fmt: skip
    out = run.stdout
    assert run.returncode == 0, out[-3000:]
    assert "test_latency[mlperf_" in out and "-measured]" in out
    assert out.count("reports only a benchmark id") == 3, out[-3000:]
    assert re.search(r"\d+ passed", out.splitlines()[-1])
    assert "failed" not in out.splitlines()[-1]


def test_an_mlperf_board_needs_its_port() -> None:
    with pytest.raises(ConfigError, match=r"mlperf:/dev/ttyACM0"):
        resolve_board("mlperf:")
