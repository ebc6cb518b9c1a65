"""Starts and stops a simulated twin in its own process (a crash there cannot take pytest down)."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import BuildError, ConfigError, FlashError
from .build import build_host_library

START_TIMEOUT_S = 60.0


@dataclass
class TwinProcess:
    proc: subprocess.Popen
    port: str
    ready: dict = field(default_factory=dict)
    log_path: Path | None = None

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def reboot(self) -> None:
        """Resets the simulated board as a watchdog would."""
        self.proc.send_signal(signal.SIGUSR1)

    def kill(self) -> None:
        """Kills the twin outright, as a board that lost power or crashed hard."""
        self.proc.kill()
        self.proc.wait()

    def stop(self, timeout: float = 5.0) -> None:
        if self.proc.stdin and not self.proc.stdin.closed:
            self.proc.stdin.close()  # --exit-on-stdin-eof ends it cleanly
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()

    def __enter__(self) -> TwinProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_twin(
    board: str,
    model: str | os.PathLike[str],
    *,
    arena: int | None = None,
    baud: int | None = None,
    rx_window: int | None = None,
    timing: bool = True,
    log_path: Path | None = None,
    protocol: str = "hil",
) -> TwinProcess:
    """Starts ``python -m harness.sim.twin`` and waits for its port.

    A model that does not fit the board is a BuildError, raised here with the figures.
    ``protocol="mlperf"`` serves MLPerf Tiny's text protocol instead of ours (benchmark peer).
    """
    args = ["--board", board, "--model", str(model)]
    for flag, value in (("--arena", arena), ("--baud", baud), ("--rx-window", rx_window)):
        if value is not None:
            args += [flag, str(value)]
    if not timing:
        args.append("--no-timing")
    if protocol != "hil":
        args += ["--protocol", protocol]
    return launch(args, log_path, personality=protocol)


def launch(
    twin_args: list[str],
    log_path: Path | None = None,
    module: str = "harness.sim.twin",
    personality: str = "hil",
) -> TwinProcess:
    """Runs ``python -m MODULE ARGS`` (a twin: the test firmware's, or another personality's
    entry) and waits for the JSON line with its port."""
    build_host_library(personality)  # compiled here: a compiler error is reported as build
    cmd = [sys.executable, "-m", module, *twin_args, "--exit-on-stdin-eof"]
    stderr = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr)
    if log_path:
        stderr.close()  # type: ignore[union-attr]
    line = _read_ready_line(proc, START_TIMEOUT_S)
    if not line:
        code = proc.poll()
        proc.kill()
        proc.wait()
        where = f"; its log: {log_path}" if log_path else ""
        raise FlashError(
            f"the simulated twin did not start within {START_TIMEOUT_S:.0f}s "
            f"(exit status {code}){where}"
        )
    ready = json.loads(line)
    if "error" in ready:
        proc.wait()
        kind = BuildError if ready.get("category") == "build" else ConfigError
        raise kind(ready["error"])
    return TwinProcess(proc, ready["port"], ready, log_path)


def _read_ready_line(proc: subprocess.Popen, timeout: float) -> str:
    """The twin's first JSON line. Lines before it are skipped: some tflite-micro builds
    (2024-2026) print to stdout when an interpreter is created."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    buf = b""
    end = time.monotonic() + timeout
    while (left := end - time.monotonic()) > 0:
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            if line.lstrip().startswith(b"{"):
                return line.decode()
        if not select.select([fd], [], [], left)[0]:
            break
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        buf += chunk
    return ""
