"""PlatformIO from the harness: command lines, the environment, where its copies and logs go,
streamed runs, classified failures.

The command lines and the failure classification are pure functions; the process runner is
injected, so all of it is tested without PlatformIO's registry or a board.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import logging
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from .. import runlog
from ..errors import BuildError, FlashError, HilError
from ..firmware.pins import Pins
from ..firmware.progress import BuildProgress

log = logging.getLogger(__name__)

PIO_VAR = "TFLM_HIL_PIO"
BUILD_TIMEOUT_S = 45 * 60.0  # a first build fetches the toolchain, the core and TFLM
UPLOAD_TIMEOUT_S = 5 * 60.0

# (lines, env, log path, line callback, timeout) -> exit code; raises TimeoutError
Runner = Callable[[list[str], Mapping[str, str], Path, Callable[[str], None], float], int]


def pio_command() -> list[str]:
    """How to run PlatformIO: $TFLM_HIL_PIO, else this interpreter's platformio, else `pio`."""
    explicit = os.environ.get(PIO_VAR)
    if explicit:
        return shlex.split(explicit)
    if importlib.util.find_spec("platformio") is not None:
        return [sys.executable, "-m", "platformio"]
    found = shutil.which("pio") or shutil.which("platformio")
    if found:
        return [found]
    raise BuildError(
        "PlatformIO is not installed, and real boards are built with it: "
        "pip install 'tflm-hil[pio]' (or set $TFLM_HIL_PIO to a pio command), "
        "or test on a simulated twin with --board=sim:<id>"
    )


def build_command(pio: list[str], project: Path, env: str) -> list[str]:
    return [*pio, "run", "-e", env, "-d", str(project)]


def upload_command(pio: list[str], project: Path, env: str, port: str) -> list[str]:
    # nobuild: upload the ELF this run already built and checked, never a rebuilt one.
    return [
        *pio,
        "run",
        "-e",
        env,
        "-d",
        str(project),
        "-t",
        "nobuild",
        "-t",
        "upload",
        "--upload-port",
        port,
    ]


def config_command(pio: list[str], project: Path) -> list[str]:
    return [*pio, "project", "config", "--json-output", "-d", str(project)]


def firmware_elf(project: Path, env: str) -> Path:
    return project / ".pio" / "build" / env / "firmware.elf"


def pio_environ(pins: Pins, cache: Path, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for ``pio``: the pins, a known build directory, shared caches."""
    env = dict(os.environ if base is None else base)
    env.update(pins.environ())
    # The ELF must be where firmware_elf() looks, whatever the user's PlatformIO settings.
    env.pop("PLATFORMIO_BUILD_DIR", None)
    env.pop("PLATFORMIO_WORKSPACE_DIR", None)
    # Library checkouts are shared by every image with the same TFLM ref; objects by content.
    ref_key = hashlib.sha256(pins.tflm_ref.encode()).hexdigest()[:12]
    env["PLATFORMIO_LIBDEPS_DIR"] = str(cache / "libdeps" / ref_key)
    env.setdefault("PLATFORMIO_BUILD_CACHE_DIR", str(cache / "build-cache"))
    env["PLATFORMIO_DISABLE_COLOR"] = "true"
    env.setdefault("PLATFORMIO_SETTING_ENABLE_TELEMETRY", "No")
    return env


def run_streaming(
    cmd: list[str],
    env: Mapping[str, str],
    log_path: Path,
    on_line: Callable[[str], None],
    timeout: float,
) -> int:
    """Runs cmd, its output going line by line to the log file and to on_line."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("a", encoding="utf-8", errors="replace") as logf:
        logf.write(f"$ {shlex.join(cmd)}\n")
        logf.flush()
        proc = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=dict(env),
            text=True,
            errors="replace",
            bufsize=1,
            start_new_session=True,
        )
        expired = threading.Event()

        def kill() -> None:
            expired.set()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)

        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                logf.write(line)
                on_line(line.rstrip("\n"))
            rc = proc.wait()
        finally:
            timer.cancel()
        logf.write(f"[exit {rc}]\n")
    if expired.is_set():
        raise TimeoutError(f"{shlex.join(cmd)} ran longer than {timeout:.0f} s")
    return rc


@dataclass(frozen=True)
class PioPlaces:
    """Where one board's project copies and PlatformIO logs go."""

    cache_root: Path  # images/, libdeps/, build-cache/
    board_id: str
    log_dir: Path | None = None  # --log-dir; else the cache's logs/

    def images(self) -> Path:
        return self.cache_root / "images" / self.board_id

    def log(self, stage: str) -> Path:
        """One per stage and run (the run id in its name: two runs never share a log)."""
        base = self.log_dir or self.cache_root / "logs"
        return runlog.log_path(base, f"pio-{stage}-{self.board_id}")


def run_stage(
    runner: Runner,
    cmd: list[str],
    env: dict[str, str],
    log_path: Path,
    progress: BuildProgress,
    timeout: float,
    error: type[HilError],
) -> int:
    """Runs one PlatformIO command; a hang or a missing executable is a failure of the stage
    (``error``: BuildError or FlashError), with the log."""
    try:
        return runner(cmd, env, log_path, progress.line, timeout)
    except TimeoutError as exc:
        raise error(f"{exc} (log: {log_path})") from exc
    except OSError as exc:
        raise error(f"cannot run PlatformIO ({shlex.join(cmd)}): {exc}") from exc


_SIZE_RE = re.compile(
    r"program size \((\d+) bytes\) is greater than maximum allowed \((\d+) bytes\)"
)
_REGION_RE = re.compile(r"region [`']?(\w+)'? overflowed by (\d+) bytes")
_NETWORK_RE = re.compile(
    r"UnknownPackageError|Could not find the package|HTTPClientError|Max retries exceeded|"
    r"Name or service not known|Temporary failure in name resolution|Could not resolve host|"
    r"Failed to establish a new connection|Connection refused|Network is unreachable|"
    r"unable to access 'https?://"
)
_PIN_RE = re.compile(r"version pins are unset")


def build_failure(tail: list[str], log_path: Path, env: str) -> BuildError:
    text = "\n".join(tail)
    where = f"(log: {log_path})"
    if m := _SIZE_RE.search(text):
        return BuildError(
            f"the firmware for {env} is {m.group(1)} bytes, over the {m.group(2)} bytes of flash "
            f"PlatformIO allows: shrink the model or pick a board with more flash {where}"
        )
    if m := _REGION_RE.search(text):
        return BuildError(
            f"the firmware for {env} overflows the {m.group(1)} region by {m.group(2)} bytes: "
            f"reduce the model or the arena (--arena), or pick a bigger board {where}"
        )
    if _PIN_RE.search(text):
        return BuildError(f"the build ran without its version pins set {where}")
    if m := _NETWORK_RE.search(text):
        return BuildError(
            f"PlatformIO could not fetch a package for {env} ({m.group(0)}): no network, or the "
            "PlatformIO registry or GitHub is unreachable. Run once where they are reachable to "
            f"fill the PlatformIO cache (docs/firmware.md) {where}"
        )
    errors = [ln for ln in tail if ": error:" in ln or "undefined reference to" in ln]
    shown = "\n".join((errors or tail)[-12:])
    return BuildError(f"pio run -e {env} failed {where}:\n{shown}")


_UPLOAD_HINTS = (
    (
        re.compile(r"Permission denied|Access denied|LIBUSB_ERROR_ACCESS"),
        "no permission on the USB device: install the udev rules from docs/boards.md",
    ),
    (
        re.compile(r"No device found|No DFU capable USB device|Cannot open DFU device"),
        "no bootloader answered: double-tap the board's reset button and retry",
    ),
    (
        re.compile(r"No accessible RP2040 devices in BOOTSEL mode"),
        "the RP2040 is not in BOOTSEL mode: hold BOOTSEL while plugging it in, then retry",
    ),
    (
        re.compile(r"could not open port|No such file or directory"),
        "the upload port vanished: check the cable and `tflm-hil boards`",
    ),
)


def upload_failure(tail: list[str], log_path: Path, port: str) -> FlashError:
    text = "\n".join(tail)
    for pattern, hint in _UPLOAD_HINTS:
        if pattern.search(text):
            return FlashError(f"upload through {port} failed: {hint} (log: {log_path})")
    shown = "\n".join(tail[-12:])
    return FlashError(f"upload through {port} failed (log: {log_path}):\n{shown}")
