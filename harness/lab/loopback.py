"""A labgrid lab on this host: a real coordinator and exporter on loopback, places defined.

The exporter exports serial ports (a simulated twin's pseudo-terminal, or a board's tty) as
``RawSerialPort`` resources; when a place is acquired it serves them with ser2net (RFC 2217),
exactly as on a lab's exporter host. The tests run the example suite through it; a user can
try the lab set-up with it before building one (docs/lab.md).
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigError
from .place import BOARD_TAG, KIND_TAG, LabClient

START_TIMEOUT_S = 60.0  # a loaded 2-CPU runner starts either daemon in about a second


@dataclass(frozen=True)
class LabPort:
    """One serial port to export, the place to put it in, and the board behind it."""

    place: str
    device: str  # a path under /dev (labgrid requires it): /dev/pts/N for a twin
    board: str
    simulated: bool = True


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tool(name: str) -> str:
    here = Path(sys.executable).parent / name  # the venv's console scripts first
    found = str(here) if here.exists() else shutil.which(name)
    if not found:
        raise ConfigError(f"{name} is not installed: pip install 'tflm-hil[lab]'")
    return found


def _wait_for(log: Path, needle: str, proc: subprocess.Popen, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while needle not in log.read_text(errors="replace"):
        if proc.poll() is not None or time.monotonic() > deadline:
            why = f"exited {proc.returncode}" if proc.poll() is not None else "no answer"
            raise RuntimeError(f"{log.stem}: {why}; its log {log}:\n{log.read_text()}")
        time.sleep(0.05)


def _stop(proc: subprocess.Popen, timeout_s: float = 20.0) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)  # the exporter stops its ser2net children on SIGINT
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@dataclass
class LoopbackLab:
    workdir: Path
    exporter: str = "lab0"
    address: str = ""
    procs: list[subprocess.Popen] = field(default_factory=list)

    def _daemon(self, cmd: list[str], log_name: str, ready: str) -> None:
        log = self.workdir / log_name
        with log.open("w") as out:
            # its own session: a Ctrl-C on the terminal reaches the test run, which stops the
            # lab in order (exporter first), not the daemons at once
            proc = subprocess.Popen(
                cmd,
                cwd=self.workdir,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.procs.append(proc)
        _wait_for(log, ready, proc, START_TIMEOUT_S)

    def start(self, ports: list[LabPort]) -> None:
        if not shutil.which("ser2net") and not Path("/usr/sbin/ser2net").exists():
            raise ConfigError("ser2net is not installed: apt-get install ser2net")
        self.address = f"127.0.0.1:{free_port()}"
        # cwd: the coordinator keeps places.yaml there; a fresh directory starts empty
        self._daemon(
            [_tool("labgrid-coordinator"), "--listen", self.address],
            "coordinator.log",
            "listening on",
        )
        config = self.workdir / "exporter.yaml"
        config.write_text(
            "".join(
                f"{p.place}:\n  RawSerialPort:\n    port: {p.device}\n    speed: 115200\n"
                for p in ports
            )
        )
        # --hostname: publish the loopback address, not this host's name, as the port's host
        self._daemon(
            [
                _tool("labgrid-exporter"),
                "--coordinator",
                self.address,
                "--name",
                self.exporter,
                "--hostname",
                "127.0.0.1",
                str(config),
            ],
            "exporter.log",
            "connected to coordinator",
        )
        for p in ports:
            self.define_place(p)

    def define_place(self, port: LabPort, timeout_s: float = START_TIMEOUT_S) -> None:
        """``labgrid-client -p PLACE create``, ``add-match``, ``set-tags``, from Python."""
        client = LabClient.get(self.address)
        session = client.session
        deadline = time.monotonic() + timeout_s
        group = session.resources.get(self.exporter, {}).get(port.place, {})
        while not group:  # the exporter announces its resources a moment after it connects
            if time.monotonic() > deadline:
                raise RuntimeError(f"the exporter never announced {port.place}")
            time.sleep(0.05)
            client.sync()
            group = session.resources.get(self.exporter, {}).get(port.place, {})
        from labgrid.remote.generated import labgrid_coordinator_pb2 as pb

        stub = session.stub
        client.run(stub.AddPlace(pb.AddPlaceRequest(name=port.place)))
        match = f"{self.exporter}/{port.place}/NetworkSerialPort"
        client.run(stub.AddPlaceMatch(pb.AddPlaceMatchRequest(placename=port.place, pattern=match)))
        tags = {BOARD_TAG: port.board, KIND_TAG: "sim" if port.simulated else "real"}
        client.run(stub.SetPlaceTags(pb.SetPlaceTagsRequest(placename=port.place, tags=tags)))
        client.sync()

    def stop(self) -> None:
        """The exporter first (it stops its ser2net), then the coordinator; always both."""
        client = LabClient._open.get(self.address)
        if client:
            client.close()
        for proc in reversed(self.procs):
            _stop(proc)
        self.procs.clear()


@contextlib.contextmanager
def loopback_lab(workdir: Path, ports: list[LabPort]) -> Iterator[str]:
    """Runs a lab exporting ``ports``; yields its coordinator address (for LG_COORDINATOR)."""
    lab = LoopbackLab(workdir)
    try:
        lab.start(ports)
        yield lab.address
    finally:
        lab.stop()

