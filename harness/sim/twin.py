"""The simulated twin of a board: the firmware core behind a pseudo-terminal, paced like the board.

Run as ``python -m harness.sim.twin --board nano33 --model M.tflite``; it prints one JSON line
(the port and the image's figures) and serves until it is stopped. The link is paced at the
board's byte rate in both directions; bytes that reach the device while it is busy wait in a
receive buffer of the board's size (a UART drops what does not fit, USB CDC holds it back).
Invoke time comes from the cost model and the clock is virtual: latency figures are estimates.
SIGUSR1 reboots the device (a watchdog or brown-out reset): state is lost, the boot id changes.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import select
import signal
import sys
import termios
import time
import tty
from collections import deque
from dataclasses import dataclass

from .. import __version__
from ..boards.catalog import BoardSpec, resolve_board
from ..errors import BuildError, ConfigError, HilError
from ..protocol.constants import Flag
from ..tflite.arena import measure_host_arena, plan_arena
from ..tflite.model import TfliteModel
from .backend import TflmBackend
from .build import build_core_library, source_hash
from .corelib import Core, CoreLibrary, InfoC
from .costmodel import estimate_cycles, estimate_op_cycles
from .mlperf_core import MlperfCore

BOOT_DELAY_S = 0.02  # bytes arriving while the board boots are lost, as on a real reset
TICK_S = 0.001


@dataclass(frozen=True)
class TwinImage:
    """What a 'build' for the twin produces: the figures a real image would have."""

    board: BoardSpec
    model: TfliteModel
    arena_size: int
    arena_host_used: int
    flash_used: int
    ram_used: int
    cycles_per_invoke: int
    image_hash: str

    def describe(self) -> dict:
        return {
            "board": self.board.id,
            "model_hash": self.model.sha256,
            "image_hash": self.image_hash,
            "arena_size": self.arena_size,
            "flash_used_estimated": self.flash_used,
            "ram_used_estimated": self.ram_used,
            "cycles_per_invoke_estimated": self.cycles_per_invoke,
        }


def _kib(n: int) -> str:
    return f"{n / 1024:.1f} KiB"


def plan_image(
    board: BoardSpec, model: TfliteModel, arena_size: int | None, core_size: int
) -> TwinImage:
    """Sizes the twin's image and refuses what would not fit the board, with the figures."""
    host_used = measure_host_arena(model)
    if arena_size is None:  # when the runtime rejected the model, the device will say why
        arena_size = plan_arena(host_used) if host_used else board.ram_bytes // 2
    flash = board.footprint_flash_bytes + len(model.data)
    ram = board.footprint_ram_bytes + arena_size + core_size + board.link.window
    if flash > board.app_flash_bytes:
        raise BuildError(
            f"the image does not fit {board.name}'s flash: model {_kib(len(model.data))} + "
            f"firmware {_kib(board.footprint_flash_bytes)} (estimated) = {_kib(flash)} > "
            f"{_kib(board.app_flash_bytes)} available; "
            "shrink the model (quantize, prune, fewer filters) or pick a board with more flash"
        )
    if ram > board.app_ram_bytes:
        raise BuildError(
            f"the image does not fit {board.name}'s RAM: arena {_kib(arena_size)} + firmware "
            f"{_kib(board.footprint_ram_bytes + core_size + board.link.window)} (estimated, "
            f"receive buffer {_kib(board.link.window)} included) = {_kib(ram)} > "
            f"{_kib(board.app_ram_bytes)} available; reduce the activations (smaller input or "
            "layers) or pick a board with more RAM"
        )
    cycles = estimate_cycles(model, board.cpu)["total"]
    ident = hashlib.sha256(
        f"{source_hash()}|{model.sha256}|{board.id}|{arena_size}|{__version__}".encode()
    ).hexdigest()
    return TwinImage(board, model, arena_size, host_used, flash, ram, cycles, ident)


def open_pty() -> tuple[int, int, str]:
    """A raw pseudo-terminal: (master fd, non-blocking; slave fd, kept open so the port
    survives the host closing it; the slave's path, the port the host opens)."""
    master, slave = os.openpty()
    tty.setraw(slave, termios.TCSANOW)
    os.set_blocking(master, False)
    return master, slave, os.ttyname(slave)


class PacedWire:
    """One direction of the link: bytes leave no faster than the byte rate allows."""

    def __init__(self, rate: float):
        self.rate = rate
        self.queue: deque[tuple[bytes, float]] = deque()  # (bytes, time the first starts)
        self.sent_of_head = 0
        self.busy_until = 0.0

    def push(self, data: bytes, at: float) -> None:
        start = max(self.busy_until, at)
        self.busy_until = start + len(data) / self.rate
        self.queue.append((data, start))

    def due(self, now: float, limit: int | None = None) -> bytes:
        """Bytes whose transmission has completed by ``now`` (at most ``limit``)."""
        out = bytearray()
        while self.queue and (limit is None or len(out) < limit):
            data, start = self.queue[0]
            done = min(len(data), int((now - start) * self.rate))
            take = done - self.sent_of_head
            if limit is not None:
                take = min(take, limit - len(out))
            if take <= 0:
                break
            out += data[self.sent_of_head : self.sent_of_head + take]
            self.sent_of_head += take
            if self.sent_of_head == len(data):
                self.queue.popleft()
                self.sent_of_head = 0
        return bytes(out)

    def unsend(self, data: bytes, now: float) -> None:
        """Puts back bytes that could not be delivered (USB flow control holds them)."""
        if data:
            self.queue.appendleft((data, now))
            self.sent_of_head = 0

    @property
    def queued(self) -> int:
        """Bytes pushed and not yet sent."""
        return sum(len(d) for d, _ in self.queue) - self.sent_of_head

    def flush_to(self, fd: int, now: float) -> None:
        """Writes what is due to a non-blocking fd; what it does not take waits its turn."""
        out = self.due(now)
        while out:
            try:
                n = os.write(fd, out)
            except BlockingIOError:  # the host is not reading: hold the rest
                n = 0
            out = out[n:]
            if n == 0:
                self.unsend(out, now)
                return

    def next_due(self) -> float | None:
        if not self.queue:
            return None
        start = self.queue[0][1]
        return start + (self.sent_of_head + 1) / self.rate


class Twin:
    def __init__(
        self,
        image: TwinImage,
        lib: CoreLibrary,
        *,
        byte_rate: float,
        rx_window: int,
        drop_on_overflow: bool,
        staging: int = 0,
        emulate_timing: bool = True,
        protocol: str = "hil",
    ):
        self.image = image
        self.lib = lib
        self.rx_window = rx_window
        self.staging = staging
        self.drop_on_overflow = drop_on_overflow
        self.emulate_timing = emulate_timing
        self.clock_hz = image.board.clock_hz
        self.cycles = 0  # the virtual cycle counter
        self.inbound = PacedWire(byte_rate)
        self.outbound = PacedWire(byte_rate)
        self.ring = bytearray()
        self.busy_until = 0.0
        self.reboot_requested = False
        self.boots = 0
        self.booting_until = 0.0
        self.lost_while_booting = 0
        self._feed_t0 = 0.0
        self._feed_c0 = 0
        self.master, self.slave, self.port = open_pty()
        self.backend = TflmBackend(
            image.model,
            image.arena_size,
            on_invoke=self._on_invoke,
            op_cycles=estimate_op_cycles(image.model, image.board.cpu),
        )
        self.protocol = protocol  # "hil" (ours) or "mlperf" (MLPerf Tiny text, a peer)
        self.core: Core | MlperfCore | None = None
        self._boot(time.monotonic())

    # ---- device side ----

    def _boot(self, now: float) -> None:
        self.boots += 1
        boot_id = int.from_bytes(os.urandom(4), "little") or 1
        flags = Flag.SIMULATED | Flag.CLOCK_ESTIMATED
        info = InfoC(
            fw_version=f"tflm-hil {__version__}".encode(),
            board=self.image.board.id.encode(),
            cpu=self.image.board.cpu.encode(),
            tflm_version=_tflm_version().encode(),
            core_version=b"sim",
            arena_size=self.image.arena_size,
            clock_hz=self.clock_hz,
            rx_window=self.rx_window,
            staging=self.staging,
            boot_id=boot_id,
            flags=int(flags),
        )
        info.model_hash[:] = bytes.fromhex(self.image.model.sha256)
        info.image_hash[:] = bytes.fromhex(self.image.image_hash)
        self.ring.clear()
        self.booting_until = now + BOOT_DELAY_S if self.boots > 1 else now
        self.busy_until = self.booting_until
        self._feed_t0, self._feed_c0 = self.busy_until, self.cycles
        if self.protocol == "mlperf":
            self.core = MlperfCore(
                self.lib,
                info,
                self.backend,
                self._emit,
                lambda: self.cycles,
                db_bytes=sum(t.nbytes for t in self.image.model.inputs),
                model_version=os.path.splitext(os.path.basename(self.image.model.source))[0],
            )
        else:
            self.core = Core(
                self.lib, info, self.backend, self._emit, lambda: self.cycles, self._reset
            )
        self.core.announce()

    def _on_invoke(self) -> None:
        self.cycles += self.image.cycles_per_invoke

    def _reset(self) -> None:
        self.reboot_requested = True

    def _device_time(self) -> float:
        """Wall time the device has reached in the current feed (its virtual clock)."""
        if not self.emulate_timing:
            return self._feed_t0
        return self._feed_t0 + (self.cycles - self._feed_c0) / self.clock_hz

    def _emit(self, data: bytes) -> None:
        self.outbound.push(data, self._device_time())

    def _process(self, now: float) -> None:
        room = self.rx_window - len(self.ring)
        incoming = self.inbound.due(now, None if self.drop_on_overflow else room)
        if now < self.booting_until:
            self.lost_while_booting += len(incoming)  # the board is not listening yet
            incoming = b""
        if len(incoming) > room:  # a UART has no flow control: the excess is lost
            assert self.core is not None
            self.core.note_overflow(len(incoming) - room)
            incoming = incoming[:room]
        self.ring += incoming
        if now < self.busy_until or not self.ring:
            return
        self._feed_t0, self._feed_c0 = now, self.cycles
        data = bytes(self.ring)
        self.ring.clear()
        assert self.core is not None
        self.core.feed(data)
        self.busy_until = self._device_time()
        if self.reboot_requested:
            self.reboot_requested = False
            self._boot(self.busy_until)

    # ---- serving ----

    def reboot(self) -> None:
        """An external reset (watchdog, brown-out, the reset button)."""
        self.reboot_requested = False
        self._boot(time.monotonic())

    def _next_event(self, now: float) -> float:
        times = [t for t in (self.inbound.next_due(), self.outbound.next_due()) if t is not None]
        if self.ring:
            times.append(self.busy_until)
        return max(TICK_S, min(times) - now) if times else 0.25

    def serve(
        self, stdin_fd: int | None = None, reboot_fd: int | None = None, should_stop=lambda: False
    ) -> None:
        """Serves until should_stop() or, when stdin_fd is given, until it closes."""
        watch = [fd for fd in (self.master, stdin_fd, reboot_fd) if fd is not None]
        while not should_stop():
            try:
                readable, _, _ = select.select(watch, [], [], self._next_event(time.monotonic()))
            except InterruptedError:
                continue
            now = time.monotonic()
            if self.master in readable:
                try:
                    data = os.read(self.master, 65536)
                except OSError:  # EAGAIN, or EIO while no process has the port open
                    data = b""
                if data:
                    self.inbound.push(data, now)
            if stdin_fd in readable and not os.read(stdin_fd, 4096):
                return
            if reboot_fd in readable:
                os.read(reboot_fd, 64)
                self.reboot()
            self._process(now)
            self.outbound.flush_to(self.master, now)



def _tflm_version() -> str:
    try:
        from tflite_micro.python.tflite_micro import _version

        return f"tflite-micro {_version.__version__}"
    except ImportError:
        return "tflite-micro"


def start(args: argparse.Namespace) -> Twin:
    board, _ = resolve_board(args.board.removeprefix("sim:"))
    model = TfliteModel.load(args.model)
    lib = CoreLibrary(build_core_library())
    image = plan_image(board, model, args.arena, lib.core_size)
    rate = args.baud / 10 if args.baud else board.link.bytes_per_s
    uart = bool(args.baud) or board.link.kind == "uart"
    return Twin(
        image,
        lib,
        byte_rate=rate,
        rx_window=args.rx_window or board.link.window,
        staging=0 if args.rx_window else board.link.staging_bytes,
        drop_on_overflow=uart,
        emulate_timing=not args.no_timing,
        protocol=args.protocol,
    )


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tflm-hil sim", description=__doc__.splitlines()[0])
    p.add_argument("--board", default="nano33", help="catalog id of the board to simulate")
    p.add_argument("--model", help="the .tflite model the image carries (required)")
    p.add_argument("--arena", type=int, help="tensor arena bytes (default: measured + margin)")
    p.add_argument("--baud", type=int, help="simulate a UART at this baud rate (8N1) instead")
    p.add_argument("--rx-window", type=int, help="device receive buffer bytes (default: catalog)")
    p.add_argument(
        "--protocol",
        choices=("hil", "mlperf"),
        default="hil",
        help="device protocol: ours (hil) or MLPerf Tiny's text protocol (a peer)",
    )
    p.add_argument("--no-timing", action="store_true", help="reply at once, not after the estimate")
    p.add_argument("--exit-on-stdin-eof", action="store_true", help="stop when stdin closes")
    # Data-forwarder mode (harness/apps/pipeline/forwarder_twin.py): no model, streams a CSV.
    p.add_argument("--forward", metavar="CSV", help="stream the CSV's labelled windows instead")
    p.add_argument("--forward-rate", type=int, default=0, help="forward: samples/s (0: link)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.forward:
        from ..apps.pipeline.forwarder_twin import serve_forward

        return serve_forward(args)
    if not args.model:
        parser().error("--model is required (or --forward CSV for the data-forwarder mode)")
    try:
        twin = start(args)
    except HilError as exc:
        print(json.dumps({"error": str(exc), "category": exc.category}), flush=True)
        return 3
    except FileNotFoundError as exc:
        print(json.dumps({"error": str(exc), "category": ConfigError.category}), flush=True)
        return 3
    ready = {"port": twin.port, "pid": os.getpid(), **twin.image.describe()}
    ready["arena_used"] = twin.backend.arena_used()
    ready["model_error"] = twin.backend.init_error()
    ready["protocol"] = twin.protocol
    ready["byte_rate"] = twin.inbound.rate
    ready["rx_window"] = twin.rx_window
    print(json.dumps(ready), flush=True)
    if not args.exit_on_stdin_eof:
        print(
            f"simulated {twin.image.board.name} on {twin.port} "
            f"(open it as a serial port; Ctrl-C stops it; latency figures are estimated)",
            file=sys.stderr,
            flush=True,
        )
    reboot_r, reboot_w = os.pipe()
    signal.signal(signal.SIGUSR1, lambda *_: os.write(reboot_w, b"r"))
    stopping: list[int] = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    stdin_fd = sys.stdin.fileno() if args.exit_on_stdin_eof else None
    with contextlib.suppress(KeyboardInterrupt):
        twin.serve(stdin_fd, reboot_r, should_stop=lambda: bool(stopping))
    return 0


if __name__ == "__main__":
    sys.exit(main())
