"""Runs a child in its own process group with a time limit; its output goes to a log file.

Killing the group on timeout also kills what the child started (pytest's twin), so a hung
runtime cannot outlive its cell.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

TAIL_BYTES = 16_000


@dataclass(frozen=True)
class ProcessRun:
    """How a child process ended. ``returncode`` is negative for a signal (subprocess's rule)."""

    returncode: int | None
    timed_out: bool = False
    output: str = ""  # the tail of its stdout and stderr
    seconds: float = 0.0
    timeout_s: float = 0.0
    log: Path | None = None  # the whole output


def read_tail(path: Path, limit: int = TAIL_BYTES) -> str:
    try:
        with path.open("rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - limit))
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


def run_child(
    cmd: Sequence[str],
    *,
    log: Path,
    timeout: float,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> ProcessRun:
    log.parent.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    with log.open("ab") as out:
        out.write(f"$ {' '.join(cmd)}\n".encode())
        out.flush()
        proc = subprocess.Popen(
            list(cmd),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env=dict(env) if env is not None else None,
            start_new_session=True,
        )
        timed_out = False
        try:
            code: int | None = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            code = None
        finally:
            # Whatever happened (a timeout, our own interruption), nothing of the cell lives on.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return ProcessRun(
        returncode=code,
        timed_out=timed_out,
        output=read_tail(log),
        seconds=time.monotonic() - start,
        timeout_s=timeout,
        log=log,
    )
