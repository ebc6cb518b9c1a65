"""The device under test: a board driver's device behind a protocol client, in numpy terms."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import overload

import numpy as np

from . import runlog
from .boards.driver import BoardDriver, Device, Image
from .errors import ConfigError, DeviceRebooted, FlashError, LinkError, ModelRejected
from .protocol.client import DeviceClient
from .protocol.messages import DeviceInfo, OpCycles, Result
from .tflite.model import TfliteModel
from .tflite.vectors import Vectors

log = logging.getLogger(__name__)

# A device that reboots more often than this within one batch is reported, not retried.
MAX_REBOOTS_PER_BATCH = 2
# How long a reset device may keep answering from its old boot before the reset counts as failed.
REBOOT_WAIT_S = 10.0


@dataclass
class Event:
    kind: str
    detail: str
    at: float = field(default_factory=time.time)


class StreamedResults(Sequence[Result]):
    """The results of a stream as arrays: each vector's output bytes, boot id and cycles."""

    def __init__(self, n: int, output_bytes: int):
        self.outputs = np.zeros((n, output_bytes), dtype=np.uint8)
        self.boot_ids = np.zeros(n, dtype=np.uint32)
        self.cycles = np.zeros(n, dtype=np.uint32)

    def put(self, i: int, res: Result) -> None:
        self.outputs[i] = np.frombuffer(res.output, dtype=np.uint8)
        self.boot_ids[i] = res.boot_id
        self.cycles[i] = res.cycles[0] if res.cycles else 0

    def __len__(self) -> int:
        return len(self.cycles)

    @overload
    def __getitem__(self, i: int) -> Result: ...
    @overload
    def __getitem__(self, i: slice) -> list[Result]: ...
    def __getitem__(self, i: int | slice) -> Result | list[Result]:
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        row = self.outputs[i]
        return Result(int(self.boot_ids[i]), 1, (int(self.cycles[i]),), len(row), row.tobytes())


class Dut:
    def __init__(
        self, driver: BoardDriver, device: Device, client: DeviceClient, model: TfliteModel
    ):
        self.driver = driver
        self.device = device
        self.client = client
        self.model = model
        self.events: list[Event] = []
        self.info = self._handshake()

    @property
    def image(self) -> Image:
        return self.device.image

    def _handshake(self) -> DeviceInfo:
        info = self.client.hello()
        if info.model_hash != self.model.sha256:
            raise FlashError(
                f"the device on {self.device.port} carries model {info.model_hash[:12]}, not "
                f"{self.model.sha256[:12]} ({self.model.source}): a stale or wrong image; "
                "reflash it"
            )
        if info.image_hash != self.image.image_hash:
            raise FlashError(
                f"the device on {self.device.port} runs image {info.image_hash[:12]}, expected "
                f"{self.image.image_hash[:12]}: a stale image; reflash it"
            )
        if not info.model_ready:
            raise ModelRejected(
                f"{info.board} could not initialise {self.model.source}: {info.model_error}"
            )
        return info

    def _recover(self, exc: DeviceRebooted, reboots: int) -> int:
        reboots += 1
        self.events.append(Event("reboot", str(exc)))
        log.warning("%s; handshaking again", exc)
        if reboots > MAX_REBOOTS_PER_BATCH:
            raise exc
        self.info = self._handshake()
        return reboots

    def split_outputs(self, raw: bytes) -> list[np.ndarray]:
        outs, at = [], 0
        for t in self.info.outputs:
            outs.append(np.frombuffer(raw[at : at + t.nbytes], dtype=t.dtype).reshape(t.shape))
            at += t.nbytes
        return outs

    def infer(self, *inputs: np.ndarray) -> list[np.ndarray]:
        """One inference: the inputs in the model's dtypes and shapes; one array per output."""
        if len(inputs) != len(self.info.inputs):
            raise ConfigError(f"the model takes {len(self.info.inputs)} inputs, got {len(inputs)}")
        payload = b""
        for x, t in zip(inputs, self.info.inputs, strict=True):
            arr = np.asarray(x)
            if arr.dtype != t.dtype or arr.size * arr.itemsize != t.nbytes:
                raise ConfigError(
                    f"input {t.index} must be {t.dtype} of shape {t.shape}, got {arr.dtype} "
                    f"{arr.shape}: quantise float inputs with harness.tflite.quant.quantize"
                )
            payload += np.ascontiguousarray(arr).tobytes()
        return self.split_outputs(self._results([payload])[0].output)

    def infer_vectors(self, vectors: Vectors) -> tuple[list[np.ndarray], StreamedResults]:
        """Streams every vector; returns one (N, *shape) array per output, and the raw results.

        Memory stays flat in the vector count apart from the results themselves: payloads are
        made as the stream needs them, and each answer goes straight into arrays (its output
        bytes and 8 bytes of boot id and cycles), never into a list of objects."""
        n = len(vectors)
        results = StreamedResults(n, self.info.output_bytes)
        self._stream(n, vectors.payload, results.put)
        outputs, at = [], 0
        for t in self.info.outputs:
            raw = np.ascontiguousarray(results.outputs[:, at : at + t.nbytes])
            outputs.append(raw.view(t.dtype).reshape(n, *t.shape))
            at += t.nbytes
        return outputs, results

    def _results(self, payloads: list[bytes]) -> list[Result]:
        done: list[Result] = []
        self._stream(len(payloads), payloads.__getitem__, lambda _i, res: done.append(res))
        return done

    def _stream(
        self, n: int, payload: Callable[[int], bytes], put: Callable[[int, Result], None]
    ) -> None:
        """Streams vectors 0..n-1, handing each result to ``put``; after a reboot, resumes
        after the last answered vector."""
        answered, reboots = 0, 0
        while answered < n:
            try:
                for res in self.client.infer_stream(payload(i) for i in range(answered, n)):
                    put(answered, res)
                    answered += 1
            except DeviceRebooted as exc:
                reboots = self._recover(exc, reboots)

    def op_profile(self) -> tuple[OpCycles, ...]:
        """Per-operator counts of the device's last invoke, at its clock, in execution order."""
        return self.client.profile()

    def benchmark(self, payload: bytes, runs: int = 32, warmup: int = 2) -> Result:
        reboots = 0
        while True:
            try:
                return self.client.benchmark(payload, runs, warmup)
            except DeviceRebooted as exc:
                reboots = self._recover(exc, reboots)

    def reboot(self) -> DeviceInfo:
        """Resets the device and handshakes again: through the driver's reset line where the
        board kind has one (the twin's signal, QEMU's reset), else by asking the firmware (the
        protocol's RESET, which a board on USB CDC answers before it resets)."""
        before = self.info.boot_id
        how = "reset line"
        if not self.driver.reboot(self.device):
            self.client.reset()
            how = "protocol RESET"
        self.client.link = self.driver.reconnect(self.device)
        # A reset line is asynchronous: the first answer may still come from the old boot.
        deadline = time.monotonic() + REBOOT_WAIT_S
        while (info := self._handshake()).boot_id == before:
            if time.monotonic() >= deadline:
                raise LinkError(
                    f"{info.board} on {self.device.port} was reset ({how}) but still reports "
                    f"boot {before} after {REBOOT_WAIT_S:.0f} s: the reset did not happen"
                )
            time.sleep(0.05)
        self.info = info
        self.events.append(Event("reboot", f"{how}: boot {before} -> {self.info.boot_id}"))
        return self.info

    def close(self) -> None:
        """Closes the client (its transcript); the link is the driver's, closed by it."""
        self.client.close()


def open_dut(driver: BoardDriver, model: TfliteModel, log_dir: Path | None = None) -> Dut:
    """Builds, flashes and connects: PlatformIO's build, upload and test stages in order."""
    image = driver.build(model)
    device = driver.flash(image)
    link = driver.link(device)
    transcript = None
    if log_dir is not None:  # one per run: two runs at once never share a transcript
        transcript = runlog.log_path(log_dir, f"link-{driver.spec.id}")
    client = driver.make_client(link, device, transcript) or DeviceClient(
        link,
        byte_rate=device.byte_rate,
        reply_timeout=device.reply_timeout,
        invoke_timeout=device.invoke_timeout,
        transcript=transcript,
    )
    try:
        return Dut(driver, device, client, model)
    except BaseException:
        client.close()
        driver.close_link()
        raise
