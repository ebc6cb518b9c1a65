"""The MLPerf Tiny text protocol on the device side (hil_mlperf.c), through the twin and direct.

Through the twin: what the MLPerf runner does (load, hex lines, infer, results) gives the
TFLM host runtime's outputs, and every malformed command gets an e-[...] line followed by
m-ready, never silence. Direct (the module driven through ctypes with a fake clock): the
cycle-counter extension across wraps and the receive-overflow path, which need control of
time and of lost bytes that a live twin does not give deterministically.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import serial

from harness.errors import DeviceTimeout, LinkError
from harness.protocol.mlperf import MlperfError, MlperfPeer, requantize
from harness.sim.backend import TflmBackend
from harness.sim.build import build_host_library
from harness.sim.corelib import CoreLibrary, InfoC
from harness.sim.launcher import TwinProcess, start_twin
from harness.sim.personalities.mlperf import MlperfCore
from harness.tflite.model import TfliteModel
from harness.tflite.synthetic import fc_model as fc_model_bytes
from harness.tflite.synthetic import write_fc_model

INPUT_BYTES = 1024
USB_RATE = 64_000  # the Nano 33 BLE twin's default link (USB CDC): fast tests


@pytest.fixture(scope="module")
def fc_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_fc_model(tmp_path_factory.mktemp("mlperf") / "fc1024.tflite", INPUT_BYTES)


@pytest.fixture(scope="module")
def fc_model(fc_path: Path) -> TfliteModel:
    return TfliteModel.load(fc_path)


@pytest.fixture(scope="module")
def reference(fc_path: Path, fc_model: TfliteModel):
    from tflite_micro.python.tflite_micro import runtime

    interp = runtime.Interpreter.from_file(str(fc_path), arena_size=64 * 1024)

    def run(data: bytes) -> bytes:
        interp.set_input(np.frombuffer(data, np.int8).reshape(fc_model.inputs[0].shape), 0)
        interp.invoke()
        return interp.get_output(0).tobytes()

    return run


@pytest.fixture(scope="module")
def mlperf_twin(fc_path: Path) -> Iterator[TwinProcess]:
    with start_twin("nano33", fc_path, protocol="mlperf") as tw:
        yield tw


def _peer(port: str, flush: bool = True, **kw) -> MlperfPeer:
    link = serial.Serial(port, timeout=0.05)
    if flush:
        link.reset_input_buffer()
    return MlperfPeer(link, byte_rate=USB_RATE, reply_timeout=0.5, **kw)


@pytest.fixture
def peer(mlperf_twin: TwinProcess) -> Iterator[MlperfPeer]:
    p = _peer(mlperf_twin.port)
    p.sync()  # discards the boot banner or whatever an earlier test left
    yield p
    p.close()
    p.link.close()  # type: ignore[attr-defined]


@pytest.fixture
def fresh_peer(fc_path: Path) -> Iterator[tuple[MlperfPeer, list[str]]]:
    """A newly booted device (no load, no results yet) and its boot banner."""
    with start_twin("nano33", fc_path, protocol="mlperf") as tw:
        p = _peer(tw.port, flush=False)  # the banner may already be waiting in the port
        try:
            banner = p.wait_ready(timeout=2.0)
        except DeviceTimeout:  # it went out before the port was open, and opening dropped it:
            tw.reboot()  # a reset gives a fresh device again, its banner seen whole
            banner = p.wait_ready()
        yield p, banner
        p.close()
        p.link.close()  # type: ignore[attr-defined]


def _vectors(n: int, seed: int) -> list[bytes]:
    rng = np.random.default_rng(seed)
    xs = [rng.integers(-128, 128, INPUT_BYTES, dtype=np.int8).tobytes() for _ in range(n)]
    return [bytes([0x80]) * INPUT_BYTES, bytes([0x7F]) * INPUT_BYTES, *xs]  # both extremes


# ---- through the twin ---------------------------------------------------------------------


def test_boot_banner_name_and_profile(
    fresh_peer: tuple[MlperfPeer, list[str]], fc_path: Path
) -> None:
    p, banner = fresh_peer
    assert banner == ["m-timestamp-mode-performance", "m-init-done"]
    assert p.name() == "tflm-hil"
    assert p.profile() == {
        "profile": "tflm-hil 0.1.0 simulated twin (m-lap-us estimated)",
        "model": f"sha256-{TfliteModel.load(fc_path).sha256[:16]}",
    }


@pytest.mark.parametrize("line_bytes", [31, 26, 38, 7])
def test_runner_flow_matches_tflm_host_runtime(peer: MlperfPeer, fc_model: TfliteModel,
                                               reference, line_bytes: int) -> None:
    peer.line_bytes = line_bytes
    for data in _vectors(2, seed=line_bytes):
        res = peer.infer_vector(data)
        assert requantize(res.results, fc_model.outputs) == reference(data)
        assert len(res.results) == 10


def test_infer_n_w_reports_timing_and_repeats_on_the_same_input(
        peer: MlperfPeer, mlperf_twin: TwinProcess, fc_model: TfliteModel, reference) -> None:
    data = _vectors(1, seed=7)[-1]
    peer.load(data)
    res = peer.infer(5, 2)
    lines = list(res.lines)
    assert lines[:3] == ["m-warmup-start-2", "m-warmup-done", "m-infer-start-5"]
    assert lines[5] == "m-infer-done" and lines[6].startswith("m-results-[")
    # The twin's clock is virtual: 5 invokes of the estimated cycles, at the board's clock.
    cycles = mlperf_twin.ready["cycles_per_invoke_estimated"]
    assert abs(res.elapsed_us - 5 * cycles / 64e6 * 1e6) <= 1
    assert requantize(res.results, fc_model.outputs) == reference(data)
    # The db buffer survives an inference: a second infer without a new load gives the same.
    again = peer.infer(1, 0)
    assert again.results == res.results
    assert peer.results() == res.results


def test_timestamp_is_monotonic_microseconds(peer: MlperfPeer) -> None:
    first = peer.timestamp()
    peer.load(bytes(INPUT_BYTES))
    peer.infer(3, 0)
    assert peer.timestamp() > first


def test_db_print_shows_the_loaded_bytes(peer: MlperfPeer) -> None:
    data = bytes(range(256)) * 4
    peer.load(data)
    lines = peer.command("db print 12 250")
    assert lines == ["m-buffer-fa-fb-fc-fd-fe-ff-00-01", "m-buffer-02-03-04-05"]


def test_flush_idiom_and_line_endings_are_tolerated(peer: MlperfPeer) -> None:
    assert peer.command("") == []  # a lone '%': only m-ready
    assert peer.command("\r\nname") == ["m-name-dut-[tflm-hil]"]


@pytest.mark.parametrize(
    ("command", "reason"),
    [
        ("foo", "Unknown command: foo"),
        ("db", "requires a subcommand"),
        ("db load", "requires the # of bytes"),
        ("db load x", "requires the # of bytes"),
        ("db load -5", "requires the # of bytes"),
        ("db load 0", "must be >0 bytes"),
        ("db load 99999", "exceeds the buffer of 1024 bytes"),
        ("db print 9999", "range past the loaded bytes"),
        ("db 123", "Odd number of hex digits"),
        ("db zz", "Invalid hex digit 'z'"),
        ("db 00 11", "one run of hex digits"),
        ("infer 0", "iterations must be >0"),
        ("infer x", "iterations must be >0"),
        ("infer 1 -1", "warmup must be >=0"),
        ("infer 1 2 3", "takes N [W]"),
        ("a b c d e", "Too many arguments"),
        ("db " + "ab" * 40, "longer than 80 characters"),
    ],
)
def test_malformed_commands_get_an_error_then_ready(peer: MlperfPeer, command: str,
                                                    reason: str) -> None:
    # Data commands need a load first: made here, not left to whichever test ran before (in
    # another order the device answered "No 'db load N' before the data").
    peer.command("db load 16")
    with pytest.raises(MlperfError) as err:
        peer.command(command)
    assert any(reason in r for r in err.value.reasons), err.value.lines
    assert peer.name() == "tflm-hil"  # the device still answers


def test_state_errors_on_a_fresh_device(fresh_peer: tuple[MlperfPeer, list[str]],
                                        fc_model: TfliteModel, reference) -> None:
    p, _ = fresh_peer
    cases = [
        ("results", "No results: run 'infer' first"),
        ("db 0011", "No 'db load N' before the data"),
        ("infer 1 0", "Input incomplete: 0 of 0 bytes loaded"),
    ]
    for command, reason in cases:
        with pytest.raises(MlperfError, match=reason):
            p.command(command)
    p.command("db load 4")
    p.command("db 0102")
    with pytest.raises(MlperfError, match="Input incomplete: 2 of 4 bytes loaded"):
        p.command("infer 1 0")
    with pytest.raises(MlperfError, match="3 bytes but only 2 of the load remain"):
        p.command("db 030405")  # refused whole: nothing stored
    assert "m-load-done" in p.command("db 0304")
    with pytest.raises(MlperfError, match="Loaded 4 bytes; the model's inputs take 1024"):
        p.command("infer 1 0")
    p.command("db load 2")
    with pytest.raises(MlperfError, match="Invalid hex digit 'g'"):  # validated before storing
        p.command("db 00g0")
    assert p.command("db print") == []  # nothing of the bad line was stored
    # After all that, a correct vector still gives the reference's answer.
    data = _vectors(1, seed=3)[-1]
    assert requantize(p.infer_vector(data).results, fc_model.outputs) == reference(data)


def test_silent_device_is_a_clear_timeout() -> None:
    master, slave = os.openpty()  # a port with nobody behind it
    try:
        link = serial.Serial(os.ttyname(slave), timeout=0.05)
        p = MlperfPeer(link, byte_rate=11520, reply_timeout=0.2)
        # the message states the deadline applied: 0.2 s + (13 + 64 bytes) / 11520 B/s
        with pytest.raises(
            DeviceTimeout,
            match=r"no m-ready in reply to 'db load 1024' within 0\.21s \(reply 0\.20s \+ "
            r"wire time 0\.01s at 11520 B/s\)",
        ):
            p.load(bytes(INPUT_BYTES))
        link.close()
    finally:
        os.close(master)
        os.close(slave)


class _Chatter:
    """A port whose device answers the first command, then never stops sending."""

    timeout: float | None = 0.05
    in_waiting = 16

    def __init__(self) -> None:
        self.replies = [b"m-ready\r\n"]

    def write(self, data: bytes) -> int:
        return len(data)

    def read(self, size: int = 1) -> bytes:
        return self.replies.pop() if self.replies else b"m-lap-us-1\r\n"[:size]


def test_sync_with_a_device_that_never_goes_quiet_is_a_link_error() -> None:
    p = MlperfPeer(_Chatter(), byte_rate=11520, reply_timeout=0.2)
    with pytest.raises(LinkError, match=r"still sending after 0\.3s .*m-lap-us-1"):
        p.sync(quiet=0.05, limit=0.3)


# ---- the module driven directly -----------------------------------------------------------


class _Device:
    """hil_mlperf on the TFLM host backend with a clock the test sets."""

    def __init__(self, model: TfliteModel, clock_hz: int = 64_000_000, cycles_per_invoke: int = 0):
        self.cycles = 0
        self.out = bytearray()
        self.backend = TflmBackend(model, 64 * 1024, on_invoke=self._tick)
        self.per_invoke = cycles_per_invoke
        info = InfoC(fw_version=b"tflm-hil test", board=b"nano33", clock_hz=clock_hz)
        self.core = MlperfCore(CoreLibrary(build_host_library("mlperf")), info, self.backend,
                               self.out.extend, lambda: self.cycles,
                               db_bytes=INPUT_BYTES, model_version="fc1024")

    def _tick(self) -> None:
        self.cycles += self.per_invoke

    def send(self, text: str) -> list[str]:
        self.out.clear()
        self.core.feed(text.encode())
        return self.out.decode().split("\r\n")[:-1]


def test_timestamps_extend_the_32bit_cycle_counter_across_wraps(fc_model: TfliteModel) -> None:
    dev = _Device(fc_model, clock_hz=64_000_000, cycles_per_invoke=3_000_000_000)
    dev.send("db load 1024%")
    for _ in range(0, INPUT_BYTES, 32):
        dev.send(f"db {bytes(32).hex()}%")
    lines = dev.send("infer 4 0%")  # 12e9 cycles: the counter wraps twice
    laps = [int(ln.removeprefix("m-lap-us-")) for ln in lines if ln.startswith("m-lap-us-")]
    assert laps[1] - laps[0] == 4 * 3_000_000_000 * 1_000_000 // 64_000_000
    assert dev.core.stats["invokes"] == 4


def test_overflow_refuses_the_damaged_command(fc_model: TfliteModel) -> None:
    dev = _Device(fc_model)
    dev.core.feed(b"db lo")
    dev.core.note_overflow(17)  # the glue's UART dropped bytes mid-command
    lines = dev.send("ad 1024%")
    assert lines == ["e-[Bytes of this command were lost: receive buffer overflow]", "m-ready"]
    assert dev.send("db load 1024%") == ["m-[Expecting 1024 bytes]", "m-ready"]  # then recovers
    assert dev.core.stats["overflows"] == 1 and dev.core.stats["bytes_dropped"] == 17


def test_results_keep_enough_decimals_to_recover_small_scales() -> None:
    # An output scale below 0.002: the reference's 3 decimals could not tell steps apart.
    model = TfliteModel(fc_model_bytes(INPUT_BYTES, out_scale=0.00042))
    dev = _Device(model)
    data = _vectors(1, seed=11)[-1]
    dev.send("db load 1024%")
    for i in range(0, INPUT_BYTES, 32):
        dev.send(f"db {data[i : i + 32].hex()}%")
    (line,) = [ln for ln in dev.send("infer 1 0%") if ln.startswith("m-results-[")]
    values = line.removeprefix("m-results-[").removesuffix("]").split(",")
    assert all(len(v.split(".")[1]) == 4 for v in values)  # 10^-4 <= 0.00042 / 2
    from tflite_micro.python.tflite_micro import runtime

    interp = runtime.Interpreter.from_bytes(model.data, arena_size=64 * 1024)
    interp.set_input(np.frombuffer(data, np.int8).reshape(1, INPUT_BYTES), 0)
    interp.invoke()
    assert requantize([float(v) for v in values], model.outputs) == interp.get_output(0).tobytes()


def test_requantize_refuses_values_off_the_grid(fc_model: TfliteModel) -> None:
    (out,) = fc_model.outputs
    on_grid = [(q - out.zero_point) * out.scale for q in range(-5, 5)]
    assert requantize(on_grid, [out]) == np.arange(-5, 5, dtype=np.int8).tobytes()
    with pytest.raises(ValueError, match="quantization grid"):
        requantize([v + out.scale / 2 for v in on_grid], [out])
    with pytest.raises(ValueError, match="outputs hold"):
        requantize(on_grid[:-1], [out])
