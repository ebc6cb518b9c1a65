"""Runs an image on QEMU with its UART on a pseudo-terminal and instruction counting on.

``-icount shift=7,align=off,sleep=off``: every instruction advances QEMU's virtual clock by
exactly 2^7 = 128 ns, however fast the host runs, so the firmware's timer readings count
instructions, the same count on every run. The UART is on a pseudo-terminal (``-serial pty``;
QEMU prints its path), QMP on stdin resets or ends the machine, and everything QEMU prints
goes to a log. QEMU runs in its own process group, dies with the harness (PR_SET_PDEATHSIG)
and is killed at exit if nothing stopped it before: it never outlives the session.

QEMU reads a pseudo-terminal only while it sees the other end open, and notices an opening
by polling once a second; what the firmware writes meanwhile is dropped. So the runner keeps
the terminal open itself from the start (whoever opens the link later finds QEMU reading) and
returns once the firmware has answered an ECHO through it: the device is then ready.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import re
import secrets
import select
import shutil
import signal
import subprocess
import time
import weakref
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import FlashError
from ..protocol.constants import Msg
from ..protocol.framing import Frame, FrameDecoder, encode_frame

QEMU = "qemu-system-arm"
ICOUNT_SHIFT = 7  # firmware/src/emu/hil_emu.h's HIL_EMU_ICOUNT_SHIFT is set from this
# firmware/src/emu/mps2.ld's hil_noinit: the boot seed's word, written at every (re)start
SEED_ADDRESS = 0x20000000 + 4 * 1024 * 1024 - 64
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 5.0
FAULT_EXIT = 0x80  # firmware/src/emu/hil_emu.h: HIL_EMU_FAULT_EXIT + the exception number
EXCEPTIONS = {2: "NMI", 3: "HardFault", 4: "MemManage fault", 5: "BusFault", 6: "UsageFault"}
_PTY_RE = re.compile(rb"char device redirected to (/dev/pts/\d+)")
PR_SET_PDEATHSIG = 1


def qemu_command(elf: Path, machine: str, seed: int) -> list[str]:
    return [
        QEMU,
        "-M", machine,
        "-nographic",
        "-monitor", "none",
        "-qmp", "stdio",
        "-serial", "pty",
        "-icount", f"shift={ICOUNT_SHIFT},align=off,sleep=off",
        "-semihosting-config", "enable=on,target=native",
        "-device", f"loader,addr={SEED_ADDRESS:#x},data={seed:#x},data-len=4",
        "-kernel", str(elf),
    ]  # fmt: skip


def describe_exit(code: int | None) -> str:
    if code is None:
        return "QEMU is running"
    if code >= FAULT_EXIT and code - FAULT_EXIT in EXCEPTIONS:
        return f"the firmware stopped on a CPU fault ({EXCEPTIONS[code - FAULT_EXIT]})"
    if code < 0:
        return f"QEMU was killed by signal {-code}"
    return f"QEMU exited with status {code}"


def _die_with_parent() -> None:
    """In the child before exec: the kernel kills QEMU if the harness dies first."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _kill_group(proc: subprocess.Popen, keeper: list[int]) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    while keeper:
        with contextlib.suppress(OSError):
            os.close(keeper.pop())


def _answers_echo(fd: int, proc: subprocess.Popen, deadline: float) -> bool:
    """Sends an ECHO through ``fd`` and waits for the firmware's reply (while QEMU runs)."""
    token = secrets.token_bytes(8)
    os.write(fd, encode_frame(Msg.ECHO, 0, token))
    decoder = FrameDecoder()
    while (left := deadline - time.monotonic()) > 0 and proc.poll() is None:
        if not select.select([fd], [], [], min(left, 0.1))[0]:
            continue
        try:
            data = os.read(fd, 4096)
        except BlockingIOError:
            continue
        except OSError:  # the other end went away: QEMU ended
            return False
        for frame in decoder.feed(data):
            if isinstance(frame, Frame) and frame.type == Msg.ECHO_R:
                return frame.payload == token
        if not data:
            time.sleep(0.02)
    return False


def _answers_mlperf(fd: int, proc: subprocess.Popen, deadline: float) -> bool:
    """The MLPerf Tiny DUT firmware's readiness: ``name%`` answered up to ``m-ready``."""
    os.write(fd, b"name%")
    seen = b""
    while (left := deadline - time.monotonic()) > 0 and proc.poll() is None:
        if not select.select([fd], [], [], min(left, 0.1))[0]:
            continue
        try:
            seen += os.read(fd, 4096)
        except BlockingIOError:
            continue
        except OSError:  # the other end went away: QEMU ended
            return False
        if b"m-name-dut-" in seen and seen.rstrip().endswith(b"m-ready"):
            return True
    return False


PROBES = {"hil": _answers_echo, "mlperf": _answers_mlperf}


@dataclass
class QemuProcess:
    proc: subprocess.Popen
    port: str
    log_path: Path
    _keeper: list[int] = field(default_factory=list, repr=False)  # our fd on the terminal
    _finalizer: weakref.finalize = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._finalizer = weakref.finalize(self, _kill_group, self.proc, self._keeper)

    @property
    def exit_status(self) -> int | None:
        return self.proc.poll()

    def describe(self) -> str:
        return f"{describe_exit(self.exit_status)} (log: {self.log_path})"

    def _qmp(self, command: str) -> None:
        assert self.proc.stdin is not None
        with contextlib.suppress(BrokenPipeError, ValueError):
            self.proc.stdin.write(json.dumps({"execute": command}).encode() + b"\n")
            self.proc.stdin.flush()

    def reset(self) -> None:
        """Resets the machine as a reset button would: RAM kept, the image reloaded."""
        self._qmp("system_reset")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self._qmp("quit")
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(STOP_TIMEOUT_S)
        self._finalizer()  # kills what is left of the group, and runs only once
        if self.proc.stdin:
            with contextlib.suppress(BrokenPipeError):
                self.proc.stdin.close()

    def __enter__(self) -> QemuProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_qemu(elf: Path, machine: str, log_path: Path, protocol: str = "hil") -> QemuProcess:
    """Starts ``elf`` on ``machine``; returns once the firmware answers on QEMU's
    pseudo-terminal in its ``protocol`` (ours, or MLPerf Tiny's text protocol)."""
    if not shutil.which(QEMU):
        raise FlashError(
            f"{QEMU} is missing: it runs the emulated board. Install it: apt-get install "
            "qemu-system-arm (or run ./dev setup)"
        )
    log_path.parent.mkdir(parents=True, exist_ok=True)
    seed = secrets.randbits(32) or 1  # boot ids differ from one QEMU run to the next
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            qemu_command(elf, machine, seed),
            stdin=subprocess.PIPE,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,  # only a prctl: no locks taken in the child
        )
    qemu = QemuProcess(proc, "", log_path)
    qemu._qmp("qmp_capabilities")
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline and proc.poll() is None:
        if m := _PTY_RE.search(log_path.read_bytes()):
            qemu.port = m.group(1).decode()
            try:
                fd = os.open(qemu.port, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
            except OSError:  # QEMU is exiting (a firmware that faults at once): its pty went
                with contextlib.suppress(subprocess.TimeoutExpired):  # with it; the error
                    proc.wait(timeout=5)  # below says why it exited
                break
            qemu._keeper.append(fd)
            if PROBES[protocol](qemu._keeper[0], proc, deadline):
                return qemu
            break
        time.sleep(0.02)
    qemu.stop()
    tail = log_path.read_text(errors="replace").strip().splitlines()[-5:]
    raise FlashError(
        f"the firmware {elf} did not answer on QEMU {machine} within {START_TIMEOUT_S:.0f} s: "
        f"{describe_exit(proc.poll())}; {' / '.join(tail) or 'no output'} (log: {log_path})"
    )
