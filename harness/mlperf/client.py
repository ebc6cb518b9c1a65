"""Our device client's requests over MLPerf Tiny's text protocol, so that the suite's ``Dut``
drives any MLPerf Tiny DUT firmware as it drives our own.

What an MLPerf DUT can tell: its name, its firmware string, the benchmark id of its model
(``m-model-[ic01]``), the results of an inference and two ``m-lap-us-`` timestamps around
it. What it cannot: the exact model it carries (only the id is checked; the bit-exactness
tests then catch another model), its arena, its per-operator counts. Latency is the DUT's own
``m-lap-us`` (microseconds): measured by the DUT, with its timer's resolution.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import serial

from ..boards.driver import Image
from ..errors import ConfigError, FlashError, LinkError
from ..protocol.client import Link
from ..protocol.constants import Flag
from ..protocol.messages import TFLITE_TYPE_CODES, DeviceInfo, OpCycles, Result, TensorDesc
from ..protocol.mlperf import MlperfError, MlperfPeer, requantize
from ..protocol.mlperf_benchmarks import Benchmark, model_id
from ..tflite.model import TensorInfo, TfliteModel

US_PER_S = 1_000_000  # the DUT's m-lap-us are microseconds: its "clock" for our figures
QUIET_S = 0.3  # a port this long silent after opening: the DUT's boot banner is over
IDENTIFY_TRIES = 3  # the runner asks name and profile up to 3 times too


def _desc(t: TensorInfo) -> TensorDesc:
    return TensorDesc(t.index, TFLITE_TYPE_CODES[t.dtype], t.shape, t.nbytes, t.scale, t.zero_point)


class MlperfClient:
    """``hello``, ``infer_stream``, ``benchmark``, ``profile`` over an ``MlperfPeer``."""

    def __init__(self, peer: MlperfPeer, image: Image, bench: Benchmark | None, boot_wait: float):
        self.peer = peer
        self.image = image
        self.model: TfliteModel = image.model
        self.bench = bench
        self.boot_wait = boot_wait
        self.info: DeviceInfo | None = None

    @property
    def link(self) -> Link:
        return self.peer.link

    @link.setter
    def link(self, link: Link) -> None:  # a new link after a reconnect
        self.peer.link = link

    def reset(self) -> None:
        raise ConfigError(
            "an MLPerf Tiny DUT has no reset command and mlperf:PORT no reset line: reset the "
            "board by hand"
        )

    # ---- handshake ----------------------------------------------------------------------

    def _drain(self) -> None:
        """Reads whatever the DUT prints while it boots (banner, a first m-lap-us)."""
        end = time.monotonic() + self.boot_wait
        quiet_since = time.monotonic()
        while time.monotonic() < end and time.monotonic() - quiet_since < QUIET_S:
            self.link.timeout = 0.05
            try:
                if self.link.read(max(1, self.link.in_waiting)):
                    quiet_since = time.monotonic()
            except (serial.SerialException, OSError) as exc:
                raise LinkError(f"reading from the MLPerf DUT failed: {exc}") from exc

    def expected_id(self) -> str:
        return model_id(self.model, self.bench)

    def hello(self) -> DeviceInfo:
        self._drain()
        last: Exception | None = None
        for _ in range(IDENTIFY_TRIES):
            try:
                name, profile = self.peer.name(), self.peer.profile()
                break
            except (LinkError, MlperfError) as exc:
                last = exc
        else:
            raise LinkError(f"the MLPerf DUT did not identify itself: {last}")
        model_id = profile["model"]
        if model_id != self.expected_id():
            raise FlashError(
                f"the MLPerf DUT on {self.peer.link.name} runs {model_id!r}, the model under test "  # type: ignore[attr-defined]
                f"is {self.expected_id()!r} ({Path(self.model.source).name}): flash the DUT with "
                "it, or pass --mlperf-model with the id the DUT reports"
            )
        self.info = DeviceInfo(
            proto_version=0,  # MLPerf's text protocol, not ours
            fw_version=profile.get("profile", ""),
            board=self.image.board.id,
            cpu=f"MLPerf DUT {name!r}",
            tflm_version="unknown (an MLPerf DUT does not report it)",
            core_version="unknown",
            # vouched for by the id: the hash itself for a model of no benchmark, only the
            # benchmark for a published one (the bit-exactness tests catch another model)
            model_hash=self.model.sha256,
            image_hash=self.image.image_hash,
            arena_size=0,
            arena_used=0,
            clock_hz=US_PER_S,
            rx_window=0,
            max_frame=0,
            boot_id=0,
            nonce=0,
            flags=Flag.MODEL_READY,
            stack_used=0,
            inputs=tuple(_desc(t) for t in self.model.inputs),
            outputs=tuple(_desc(t) for t in self.model.outputs),
        )
        return self.info

    # ---- inference ----------------------------------------------------------------------

    def _wire(self, payload: bytes) -> bytes:
        if self.bench is None:
            return payload
        return self.bench.to_wire(payload, self.model.inputs[0])

    def _infer(self, iterations: int, warmups: int) -> tuple[bytes, int]:
        res = self.peer.infer(iterations, warmups)
        stray = [ln for ln in res.lines if not ln.startswith("m-")]
        if stray:  # the reference prints some errors without the e- prefix, then infers anyway
            raise MlperfError("infer", stray, list(res.lines))
        try:
            output = requantize(res.results, self.model.outputs)
        except ValueError as exc:
            why = f"its m-results do not fit {Path(self.model.source).name}'s outputs: {exc}"
            raise MlperfError("infer", [why], list(res.lines)) from exc
        return output, res.elapsed_us

    def infer_stream(self, vectors: Iterable[bytes]) -> Iterator[Result]:
        """Each vector as the runner's accuracy mode sends it: load, ``infer 1 0``."""
        for payload in vectors:
            start = time.monotonic()
            self.peer.load(self._wire(payload))
            output, us = self._infer(1, 0)
            yield Result(0, 1, (us,), len(output), output, time.monotonic() - start)

    def benchmark(self, data: bytes, runs: int, warmup: int = 0) -> Result:
        """``runs`` single timed inferences (``infer 1 W`` then ``infer 1 0``): one sample of
        the DUT's m-lap-us each, as ``infer N`` would give only their mean."""
        start = time.monotonic()
        self.peer.load(self._wire(data))
        samples, output = [], b""
        for k in range(runs):
            output, us = self._infer(1, warmup if k == 0 else 0)
            samples.append(us)
        return Result(0, runs, tuple(samples), len(output), output, time.monotonic() - start)

    def profile(self) -> tuple[OpCycles, ...]:
        return ()  # an MLPerf DUT keeps no per-operator counts

    def close(self) -> None:
        self.peer.close()
