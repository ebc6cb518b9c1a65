"""Fault bench: the protocol through a damaging link, never accepting a wrong answer.

``python -m harness.bench.faults`` starts a simulated twin per input size (64, 2,048 and
27,648 bytes: an int8 FULLY_CONNECTED model built without TensorFlow), streams vectors to it
through a link that drops, duplicates, flips or inserts bytes, stalls, reboots the device or
vanishes (``fault_link.py``), recovers as the test session does (a reboot or a vanished port:
handshake again, then the same vector, at most ``ATTEMPTS`` times), and checks every accepted
output against the TFLM host runtime. It prints one JSON object whose ``cases`` each give
``fault``, ``rate``, ``input_bytes``, ``sent``, ``accepted``, ``wrong_accepted``, ``hangs``
(a vector still unanswered after ``HANG_S``: the watchdog then closes the port), ``retries``
(frames sent again, INPUT_STATE probes and handshakes) and ``success_rate``; it exits 1 if
any wrong result was accepted or anything hung.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import serial

from ..errors import HilError
from ..protocol.client import DeviceClient
from ..sim.launcher import TwinProcess, start_twin
from ..tflite.synthetic import write_fc_model
from .fault_link import BYTE_FAULTS, EVENT_FAULTS, FaultyLink
from .link import reference_outputs

SIZES = (64, 2048, 27648)
RATES = {"drop": 1e-3, "duplicate": 1e-3, "bitflip": 1e-3, "garbage": 1e-3}
EVENT_RATE = 0.1  # per vector
ATTEMPTS = 3  # tries per vector after a reboot, a vanished port or a timeout
HANG_S = 60.0


@dataclass
class Case:
    fault: str
    rate: float
    input_bytes: int
    sent: int = 0
    accepted: int = 0
    wrong_accepted: int = 0
    hangs: int = 0
    retries: int = 0
    injected: int = 0
    failures: int = 0  # tries that ended in a typed error (then tried again)
    seconds: float = 0.0

    @property
    def success_rate(self) -> float:
        return round(self.accepted / self.sent, 4) if self.sent else 0.0

    def as_json(self) -> dict:
        return {**asdict(self), "success_rate": self.success_rate}


class Session:
    """One client over one faulty port, opened again when the port vanishes."""

    def __init__(self, twin: TwinProcess, fault: str, rate: float, seed: int, byte_rate: float):
        self.twin, self.fault, self.rate, self.byte_rate = twin, fault, rate, byte_rate
        self.link = FaultyLink(serial.Serial(twin.port, timeout=0.1), fault, rate, seed)
        self.client = DeviceClient(self.link, byte_rate=byte_rate)
        self.retries = 0

    def reopen(self) -> None:
        self._count()
        self.client.close()
        self.link.port.close()
        self.link.port = serial.Serial(self.twin.port, timeout=0.1)
        self.link.vanished = False
        self.client = DeviceClient(self.link, byte_rate=self.byte_rate)

    def _count(self) -> None:
        c = self.client.counters
        self.retries += c.resends + c.probes

    def close(self) -> None:
        self._count()
        self.client.close()
        self.link.port.close()


def _hang(flag: threading.Event, port: serial.Serial) -> None:
    flag.set()
    port.close()  # the client's next read fails: the bench goes on


def run_case(twin: TwinProcess, case: Case, xs: list[bytes], refs: list[bytes], seed: int,
             byte_rate: float) -> Case:
    s = Session(twin, case.fault, case.rate, seed, byte_rate)
    t0 = time.monotonic()
    try:
        for x, ref in zip(xs, refs, strict=True):
            case.sent += 1
            for _ in range(ATTEMPTS):
                if s.link.before_vector() == "reboot":
                    twin.reboot()
                hung = threading.Event()
                # the watchdog: a hang is counted, never waited out
                timer = threading.Timer(HANG_S, _hang, (hung, s.link.port))
                timer.start()
                try:
                    if s.client.info is None:
                        s.retries += 1
                        s.client.hello()
                    out = s.client.infer(x).output
                except (HilError, serial.SerialException, OSError):
                    case.failures += 1
                    case.hangs += hung.is_set()
                    if s.link.vanished or hung.is_set():
                        s.reopen()
                    s.client.info = None  # handshake again, as the test session does
                    continue
                finally:
                    timer.cancel()
                case.accepted += 1
                case.wrong_accepted += out != ref
                break
    finally:
        s.close()
    case.retries = s.retries
    case.injected = s.link.injected
    case.seconds = round(time.monotonic() - t0, 2)
    return case


def run(
    *, faults: tuple[str, ...], sizes: tuple[int, ...], vectors: int, board: str, seed: int,
    event_rate: float, byte_rate_override: dict[str, float] | None = None,
) -> dict:
    cases = []
    with tempfile.TemporaryDirectory(prefix="tflm-hil-faults-") as tmp:
        for size in sizes:
            model_path = write_fc_model(Path(tmp) / f"fc{size}.tflite", size, 10, seed)
            rng = np.random.default_rng(seed + size)
            xs_arr = rng.integers(-128, 128, size=(vectors, size), dtype=np.int8)
            refs = reference_outputs(model_path, xs_arr)
            xs = [x.tobytes() for x in xs_arr]
            twin = start_twin(board, model_path)
            try:
                byte_rate = float(twin.ready.get("byte_rate") or 64_000)
                for fault in faults:
                    rate = (byte_rate_override or RATES).get(fault, event_rate)
                    case = run_case(twin, Case(fault, rate, size), xs, refs, seed, byte_rate)
                    cases.append(case.as_json())
                    print(  # progress: a full run takes minutes
                        f"faults: {fault} {rate:g} {size} B: {case.accepted}/{case.sent} accepted, "
                        f"{case.wrong_accepted} wrong, {case.hangs} hangs, {case.seconds}s",
                        file=sys.stderr,
                        flush=True,
                    )
            finally:
                twin.stop()
    wrong = sum(c["wrong_accepted"] for c in cases)
    hangs = sum(c["hangs"] for c in cases)
    return {
        "benchmark": "faults: the tflm-hil protocol through a damaging link",
        "cases": cases,
        "wrong_accepted": wrong,
        "hangs": hangs,
        "ok": wrong == 0 and hangs == 0,
        "setup": {
            "board": f"sim:{board}",
            "vectors_per_case": vectors,
            "model": "int8 [1,N] -> FULLY_CONNECTED -> int8 [1,10]",
            "reference": "TFLM host runtime (tflite-micro), bit-exact",
            "byte_faults": "per byte, both ways",
            "event_faults": "per vector",
            "attempts_per_vector": ATTEMPTS,
            "hang_bound_s": HANG_S,
            "seed": seed,
        },
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m harness.bench.faults", description=__doc__.splitlines()[0]
    )
    ap.add_argument("--vectors", type=int, default=20, help="vectors per case (default 20)")
    ap.add_argument(
        "--fault", action="append", choices=BYTE_FAULTS + EVENT_FAULTS,
        help="run only this fault (repeatable; default: all)",
    )
    ap.add_argument(
        "--size", action="append", type=int, help=f"input bytes (repeatable; default {SIZES})"
    )
    ap.add_argument("--byte-rate", type=float, help="per-byte fault rate (default 1e-3)")
    ap.add_argument("--event-rate", type=float, default=EVENT_RATE, help="per-vector event rate")
    ap.add_argument("--board", default="nano33", help="catalog id of the simulated board")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    rates = {f: args.byte_rate for f in BYTE_FAULTS} if args.byte_rate is not None else None
    try:
        figures = run(
            faults=tuple(args.fault or BYTE_FAULTS + EVENT_FAULTS),
            sizes=tuple(args.size or SIZES),
            vectors=args.vectors,
            board=args.board,
            seed=args.seed,
            event_rate=args.event_rate,
            byte_rate_override=rates,
        )
    except HilError as exc:
        print(f"tflm-hil faults: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(figures, indent=2))
    return 0 if figures["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
