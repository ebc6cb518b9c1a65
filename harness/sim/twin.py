"""The simulated twin of a board: the firmware core behind a pseudo-terminal, paced like the board.

Run as ``python -m harness.sim.twin --board nano33 --model M.tflite``; it prints one JSON line
(the port and the image's figures) and serves until it is stopped. The link is paced at the
board's byte rate in both directions (harness/sim/host.py). Invoke time comes from the cost
model and the clock is virtual: latency figures are estimates. SIGUSR1 reboots the device (a
watchdog or brown-out reset): state is lost, the boot id changes.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import sys
from collections.abc import Callable

from .. import __version__
from ..boards.catalog import resolve_board
from ..errors import ConfigError, HilError
from ..protocol.constants import Flag
from ..tflite.model import TfliteModel
from ..tflite.runtime import version as runtime_version
from .backend import TflmBackend
from .build import build_host_library
from .corelib import CoreLibrary
from .costmodel import estimate_op_cycles
from .host import TwinHost
from .image import TwinImage, plan_image
from .personalities.hil import HilPersonality
from .personalities.mlperf import MlperfPersonality
from .personality import BootInfo, Personality, VirtualClock

PERSONALITIES: dict[str, Callable[[CoreLibrary, TflmBackend], Personality]] = {
    "hil": HilPersonality,
    "mlperf": MlperfPersonality,
}


def boot_info(image: TwinImage, rx_window: int, staging: int = 0) -> BootInfo:
    return BootInfo(
        board=image.board.id,
        cpu=image.board.cpu,
        fw_version=f"tflm-hil {__version__}",
        tflm_version=runtime_version(),
        core_version="sim",
        model_hash=image.model.sha256,
        image_hash=image.image_hash,
        arena_size=image.arena_size,
        clock_hz=image.board.clock_hz,
        rx_window=rx_window,
        staging=staging,
        flags=int(Flag.SIMULATED | Flag.CLOCK_ESTIMATED),
    )


def start(args: argparse.Namespace) -> tuple[TwinHost, TwinImage, TflmBackend]:
    board, _ = resolve_board(args.board.removeprefix("sim:"))
    model = TfliteModel.load(args.model)
    lib = CoreLibrary(build_host_library(args.protocol))
    image = plan_image(board, model, args.arena, lib.core_size, args.protocol)
    clock = VirtualClock()
    backend = TflmBackend(
        model,
        image.arena_size,
        on_invoke=lambda: clock.add(image.cycles_per_invoke),
        op_cycles=estimate_op_cycles(model, board.cpu),
    )
    personality = (
        MlperfPersonality(lib, backend, args.mlperf_model)
        if args.protocol == "mlperf"
        else PERSONALITIES[args.protocol](lib, backend)
    )
    host = TwinHost(
        personality,
        boot_info(  # --rx-window replaces the whole buffer: no staging then
            image,
            args.rx_window or board.link.window,
            0 if args.rx_window else board.link.staging_bytes,
        ),
        byte_rate=args.baud / 10 if args.baud else board.link.bytes_per_s,
        drop_on_overflow=bool(args.baud) or board.link.kind == "uart",
        clock=clock,
        timing=not args.no_timing,
    )
    return host, image, backend


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tflm-hil sim", description=__doc__.splitlines()[0])
    p.add_argument("--board", default="nano33", help="catalog id of the board to simulate")
    p.add_argument("--model", required=True, help="the .tflite model the image carries")
    p.add_argument("--arena", type=int, help="tensor arena bytes (default: measured + margin)")
    p.add_argument("--baud", type=int, help="simulate a UART at this baud rate (8N1) instead")
    p.add_argument("--rx-window", type=int, help="device receive buffer bytes (default: catalog)")
    p.add_argument(
        "--protocol",
        choices=tuple(PERSONALITIES),
        default="hil",
        help="device protocol: ours (hil) or MLPerf Tiny's text protocol (a peer)",
    )
    p.add_argument(
        "--mlperf-model",
        metavar="ID",
        help="mlperf: the benchmark (ic01, kws01, vww01, ad01) the model answers as, with its "
        "input conversion and results (default: a published model's, found by its hash)",
    )
    p.add_argument("--no-timing", action="store_true", help="reply at once, not after the estimate")
    p.add_argument("--exit-on-stdin-eof", action="store_true", help="stop when stdin closes")
    return p


def serve(host: TwinHost, ready: dict, exit_on_stdin_eof: bool, what: str) -> int:
    """Prints the ready line, then serves until SIGTERM, Ctrl-C or (when asked) stdin's end."""
    print(json.dumps({"port": host.port, "pid": os.getpid(), **ready}), flush=True)
    if not exit_on_stdin_eof:
        print(
            f"{what} on {host.port} (open it as a serial port; Ctrl-C stops it)",
            file=sys.stderr,
            flush=True,
        )
    reboot_r, reboot_w = os.pipe()
    signal.signal(signal.SIGUSR1, lambda *_: os.write(reboot_w, b"r"))
    stopping: list[int] = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    stdin_fd = sys.stdin.fileno() if exit_on_stdin_eof else None
    with contextlib.suppress(KeyboardInterrupt):
        host.serve(stdin_fd, reboot_r, should_stop=lambda: bool(stopping))
    return 0


def refuse(exc: Exception) -> int:
    """The ready line of a twin that cannot start: the error and its category."""
    category = exc.category if isinstance(exc, HilError) else ConfigError.category
    print(json.dumps({"error": str(exc), "category": category}), flush=True)
    return 3


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    # the twin's log is its stderr (the driver's log file): device error replies go there
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(message)s")
    try:
        host, image, backend = start(args)
    except (HilError, FileNotFoundError) as exc:
        return refuse(exc)
    ready = {
        **image.describe(),
        "arena_used": backend.arena_used(),
        "model_error": backend.init_error(),
        "protocol": args.protocol,
        "byte_rate": host.inbound.rate,
        "rx_window": host.rx_window,
    }
    what = f"simulated {image.board.name} (latency figures are estimated)"
    return serve(host, ready, args.exit_on_stdin_eof, what)


if __name__ == "__main__":
    sys.exit(main())
