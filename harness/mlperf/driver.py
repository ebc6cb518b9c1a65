"""``--board=mlperf:PORT``: any MLPerf Tiny DUT firmware as a board of the suite.

Nothing is built or flashed: the DUT carries its own firmware and model. 'build' identifies
the benchmark of the model under test (a published model by its hash, or ``--mlperf-model``)
and 'flash' only names the port; the client (harness/mlperf/client.py) checks that the DUT
reports that benchmark, converts our vectors to the benchmark's wire format and the DUT's
printed results back to output tensors, so that the suite's references and gates judge it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import serial

from ..boards.driver import BoardDriver, Device, Image
from ..errors import ConfigError, LinkError
from ..protocol.mlperf import LINE_BYTES, MlperfPeer
from ..protocol.mlperf_benchmarks import identify, model_id
from ..provenance import Provenance
from ..tflite.model import TfliteModel
from .client import MlperfClient

DEFAULT_BAUD = 115200
BOOT_WAIT_S = 2.0  # the runner waits 2 s after opening the port: a board may reset on open
LINE_TIMEOUT_S = 5.0  # the runner's per-line timeout
INFER_TIMEOUT_S = 30.0  # ... and for infer


class MlperfDriver(BoardDriver):
    provenance = Provenance.MEASURED  # by the DUT's own m-lap-us timer
    # The DUT reports no arena, no stack and no per-operator counts, and its image's sizes
    # are unknown: the suite's tests of those skip, saying so.
    describes_itself = False

    def build(self, model: TfliteModel) -> Image:
        bench = identify(model, self.options.mlperf_model)
        if bench is not None and bench.results != "outputs":
            raise ConfigError(
                f"{bench.id} DUTs print one anomaly score, not their outputs: the suite cannot "
                "compare them with the references; score them with the MLPerf Tiny runner's "
                "accuracy mode (docs/mlperf.md)"
            )
        ident = model_id(model, bench)  # what the DUT answers: not the model's file name
        return Image(
            board=self.spec,
            model=model,
            image_hash=hashlib.sha256(f"mlperf|{ident}|{model.sha256}".encode()).hexdigest(),
            arena_size=0,
            flash_bytes=0,
            ram_bytes=0,
            provenance=Provenance.MEASURED,
            extra={"benchmark": bench},
        )

    def baud(self, image: Image) -> int:
        bench = image.extra.get("benchmark")
        return self.options.baud or (bench.baud if bench else DEFAULT_BAUD)

    def flash(self, image: Image) -> Device:
        if not self.options.port:
            raise ConfigError("--board=mlperf:PORT needs the DUT's serial port after 'mlperf:'")
        return Device(
            port=self.options.port,
            byte_rate=self.baud(image) / 10,
            image=image,
            reply_timeout=LINE_TIMEOUT_S,
            invoke_timeout=INFER_TIMEOUT_S,
        )

    def open_link(self, device: Device, timeout: float = 0.05) -> serial.Serial:
        try:
            return serial.serial_for_url(
                device.port, baudrate=self.baud(device.image), timeout=timeout, exclusive=True
            )
        except (serial.SerialException, OSError, ValueError) as exc:
            raise LinkError(f"cannot open the MLPerf DUT's port {device.port}: {exc}") from exc

    def make_client(
        self, link: serial.Serial, device: Device, transcript: Path | None
    ) -> MlperfClient:
        peer = MlperfPeer(
            link,
            byte_rate=device.byte_rate,
            line_bytes=LINE_BYTES,
            reply_timeout=device.reply_timeout,
            invoke_timeout=device.invoke_timeout,
            transcript=transcript,
        )
        return MlperfClient(peer, device.image, device.image.extra["benchmark"], BOOT_WAIT_S)
