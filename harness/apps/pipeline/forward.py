"""``tflm-hil model forward``: a CSV's labelled windows sent by the board's twin in data-forwarder
mode, over a serial port, as the data-forwarder firmware sends its sensor's windows.

It prints one JSON line (the port, the board, the windows) and serves until stopped; ``tflm-hil
model collect --source serial:PORT`` reads the windows back. The forwarder's own C module
formats the stream (harness/sim/personalities/forwarder.py), paced at the board's link rate
(and at ``--rate`` samples per second when given).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

from ... import __version__
from ...boards.catalog import resolve_board
from ...errors import ConfigError, HilError
from ...protocol.constants import Flag
from ...sim.build import build_host_library
from ...sim.corelib import CoreLibrary
from ...sim.host import TwinHost
from ...sim.launcher import TwinProcess, launch
from ...sim.personalities.forwarder import ForwarderCore, ForwarderPersonality
from ...sim.personality import BootInfo
from ...sim.twin import refuse, serve
from .config import section
from .dataset import read_csv
from .stamp import stamped_shape

NO_HASH = "0" * 64  # the forwarder carries no model


def add_forward_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--input", type=Path, required=True, help="the CSV of labelled windows")
    p.add_argument("--board", default="nano33", help="catalog id of the board [%(default)s]")
    p.add_argument("--rate", type=int, default=0,
                   help="samples per second (0: as fast as the link goes) [%(default)s]")
    p.add_argument("--baud", type=int, help="simulate a UART at this baud rate (8N1) instead")
    p.add_argument("--exit-on-stdin-eof", action="store_true", help=argparse.SUPPRESS)


def windows_of(csv_path: Path) -> tuple[np.ndarray, tuple[str, ...]]:
    """The CSV's rows as (N, window, axes) windows, and their labels.

    The shape comes from the file's collect stamp (window, axes); without one, a row is a
    window of single values.
    """
    data = read_csv(csv_path, shape=stamped_shape(csv_path), flag="--input")
    axes = int(data.shape[-1]) if len(data.shape) >= 2 else 1
    return data.x.reshape((len(data), -1, axes)), data.labels


def check_labels(scratch: ForwarderCore, labels: tuple[str, ...], source: Path) -> None:
    """Every class label through the C module's own rule (on a forwarder writing nowhere):
    refused here, before the port is announced; mid-stream the host would only see it stop."""
    for label in sorted(set(labels)):
        try:
            scratch.begin(label)
        except ConfigError as exc:
            raise ConfigError(f"{source}: {exc}; rename that class") from exc
        scratch.abort()


def run(args: argparse.Namespace) -> int:
    try:
        board, _ = resolve_board(args.board.removeprefix("sim:"))
        windows, labels = windows_of(args.input)
        personality = ForwarderPersonality(
            CoreLibrary(build_host_library("forwarder")), windows, labels,
            rate_hz=args.rate, decimals=int(section("collect")["decimals"]),
        )  # fmt: skip
        check_labels(personality.core(lambda _bytes: None), labels, args.input)
    except HilError as exc:
        return refuse(exc)
    info = BootInfo(
        board=board.id, cpu=board.cpu, fw_version=f"tflm-hil {__version__} forwarder",
        tflm_version="none", core_version="sim", model_hash=NO_HASH, image_hash=NO_HASH,
        arena_size=0, clock_hz=board.clock_hz, rx_window=board.link.rx_window,
        flags=int(Flag.SIMULATED),
    )  # fmt: skip
    host = TwinHost(
        personality, info,
        byte_rate=args.baud / 10 if args.baud else board.link.bytes_per_s,
        drop_on_overflow=bool(args.baud) or board.link.kind == "uart",
    )  # fmt: skip
    ready = {"mode": "forward", "board": board.id, "windows": len(windows)}
    what = f"simulated {board.name} forwarding {len(windows)} windows"
    return serve(host, ready, args.exit_on_stdin_eof, what)


def start_forward_twin(board: str, csv_path: str | os.PathLike[str], *,
                       rate_hz: int = 0, log_path: Path | None = None) -> TwinProcess:
    """Starts ``tflm-hil model forward`` in its own process and waits for its port."""
    args = ["--board", board.removeprefix("sim:"), "--input", str(csv_path)]
    if rate_hz:
        args += ["--rate", str(rate_hz)]
    return launch(args, log_path, module=__name__, personality="forwarder")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="tflm-hil model forward", description=__doc__.splitlines()[0])
    add_forward_arguments(p)
    return run(p.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
