"""``tflm-hil lab``: the labgrid side of the harness.

- ``tflm-hil lab flash``: run on an exporter host (over SSH, by a client's ``labgrid:`` board):
  uploads the firmware project the client built to the board on ``--port``.
- ``tflm-hil lab loopback``: a lab on this host to try a set-up with: N simulated twins, a
  coordinator and an exporter on loopback, one place per twin (tags board=ID, kind=sim);
  prints the LG_COORDINATOR to use and runs until Ctrl-C (or runs a command inside it).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

from .flash import flash_here
from .loopback import LabPort, loopback_lab


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tflm-hil lab", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("flash", help="on an exporter host: upload a client's firmware project")
    f.add_argument("--board", required=True, help="catalog id")
    f.add_argument("--port", required=True, help="the board's tty on this host")
    f.add_argument("--image-hash", required=True)
    f.add_argument("--pins", required=True, help="the image's pins (JSON)")
    f.add_argument("archive", type=Path, help="the project archive the client copied here")
    lo = sub.add_parser("loopback", help="a lab of simulated twins on this host")
    lo.add_argument("--board", default="nano33", help="catalog id of the twins [nano33]")
    lo.add_argument("--model", required=True, help="the .tflite the twins run")
    lo.add_argument("--twins", type=int, default=1, help="how many twins and places [1]")
    lo.add_argument("command", nargs=argparse.REMAINDER, help="run this inside the lab, then stop")
    return p


def _loopback(args: argparse.Namespace) -> int:
    from ..sim.launcher import start_twin

    with ExitStack() as stack:
        ports = []
        for i in range(args.twins):
            twin = start_twin(args.board, args.model)
            stack.callback(twin.stop)
            ports.append(LabPort(f"{args.board}-{i}", twin.port, args.board))
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="tflm-hil-lab-")))
        address = stack.enter_context(loopback_lab(workdir, ports))
        places = ",".join(p.place for p in ports)
        print(json.dumps({"LG_COORDINATOR": address, "board": f"labgrid:{places}"}), flush=True)
        command = [c for c in args.command if c != "--"]
        if command:
            return subprocess.run(command, env={**os.environ, "LG_COORDINATOR": address}).returncode
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            return 0
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.cmd == "flash":
        pins = json.loads(args.pins)
        flash_here(args.board, args.port, args.image_hash, pins, args.archive)
        return 0
    return _loopback(args)
