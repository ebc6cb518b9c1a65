"""One test process per board at a time, across processes, tox envs and CI jobs on a runner.

The lock is a ``filelock`` on a file named after the board's USB serial number, in a
directory every process on the machine shares (``$TFLM_HIL_LOCK_DIR``, else
``<tmp>/tflm-hil-locks``). The OS drops it when its holder dies, so a crashed run never leaves
a board locked. Next to it the holder writes a note (pid, host, command, since when) that a
waiting process quotes when it gives up.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import socket
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import filelock

from ..errors import BoardBusy

LOCK_DIR_VAR = "TFLM_HIL_LOCK_DIR"
LOCK_TIMEOUT_VAR = "TFLM_HIL_LOCK_TIMEOUT"
DEFAULT_LOCK_TIMEOUT_S = 600.0


def lock_dir() -> Path:
    explicit = os.environ.get(LOCK_DIR_VAR)
    path = Path(explicit) if explicit else Path(tempfile.gettempdir()) / "tflm-hil-locks"
    if not path.is_dir():
        path.mkdir(parents=True, exist_ok=True)
        # Shared by every user of the runner; the sticky bit keeps their files theirs.
        with contextlib.suppress(OSError):
            path.chmod(0o1777)
    return path


def lock_timeout() -> float:
    value = os.environ.get(LOCK_TIMEOUT_VAR)
    try:
        return float(value) if value else DEFAULT_LOCK_TIMEOUT_S
    except ValueError:
        return DEFAULT_LOCK_TIMEOUT_S


def lock_key(serial_number: str | None, port: str) -> str:
    """A file-name-safe key: the USB serial number, else the port (a board without one)."""
    raw = serial_number or f"port-{port}"
    return re.sub(r"[^A-Za-z0-9._-]", "_", raw)


@dataclass(frozen=True)
class Holder:
    pid: int
    host: str
    command: str
    since: str
    port: str

    def describe(self) -> str:
        return (
            f"pid {self.pid} on {self.host} since {self.since} (port {self.port}): {self.command}"
        )


class BoardLock:
    def __init__(
        self,
        key: str,
        *,
        port: str = "",
        timeout: float | None = None,
        directory: Path | None = None,
    ):
        directory = directory or lock_dir()
        self.key = key
        self.port = port
        self.timeout = lock_timeout() if timeout is None else timeout
        self.path = directory / f"{key}.lock"
        self.holder_path = directory / f"{key}.holder.json"
        self._lock = filelock.FileLock(str(self.path), mode=0o666)

    @property
    def held(self) -> bool:
        return self._lock.is_locked

    def read_holder(self) -> Holder | None:
        try:
            data = json.loads(self.holder_path.read_text())
            return Holder(**{k: data[k] for k in ("pid", "host", "command", "since", "port")})
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def acquire(self) -> None:
        try:
            self._lock.acquire(timeout=self.timeout)
        except filelock.Timeout:
            holder = self.read_holder()
            who = holder.describe() if holder else "a process that left no note"
            raise BoardBusy(
                f"the board {self.key} is in use by {who}; waited {self.timeout:.0f} s "
                f"(${LOCK_TIMEOUT_VAR}). Wait for that run to end, or pick another board "
                "with --board-serial"
            ) from None
        holder = Holder(
            pid=os.getpid(),
            host=socket.gethostname(),
            command=" ".join(sys.argv) or sys.executable,
            since=dt.datetime.now().astimezone().isoformat(timespec="seconds"),
            port=self.port,
        )
        tmp = self.holder_path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(holder.__dict__))
        tmp.replace(self.holder_path)

    def release(self) -> None:
        if not self._lock.is_locked:
            return
        holder = self.read_holder()
        if holder and holder.pid == os.getpid():
            self.holder_path.unlink(missing_ok=True)
        self._lock.release()

    def __enter__(self) -> BoardLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
