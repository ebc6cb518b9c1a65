"""A labgrid lab on loopback (a real coordinator and exporter; ser2net serving a running twin's
pseudo-terminal over RFC 2217): the example suite passes through ``--board=labgrid:PLACE``, a
second run waits in the place's reservation queue, and the place is given back after a
failing run and after SIGTERM. The lab is started and stopped by the module's fixture."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.lab.loopback import LabPort, loopback_lab
from harness.lab.place import LabClient
from harness.sim.launcher import TwinProcess, start_twin

from .conftest import DIGITS_MODEL
from .test_hil_suite import run_suite

PLACE = "nano33-a"
HOLDING = "tflm-hil-test: holding the place"


@pytest.fixture(scope="module")
def lab(tmp_path_factory) -> Iterator[str]:
    twin: TwinProcess = start_twin("nano33", DIGITS_MODEL)
    try:
        with loopback_lab(
            tmp_path_factory.mktemp("lab"), [LabPort(PLACE, twin.port, "nano33")]
        ) as address:
            yield address
    finally:
        twin.stop()


def _place_state(address: str) -> tuple[str | None, str | None]:
    client = LabClient.get(address)
    client.sync()
    place = client.place(PLACE)
    return place.acquired, place.reservation


def _env(address: str, tmp: Path) -> dict[str, str]:
    return {"LG_COORDINATOR": address, "TFLM_HIL_CACHE": str(tmp / "cache")}


def test_example_suite_passes_through_the_lab_and_releases_the_place(lab, tmp_path):
    junit = tmp_path / "junit.xml"
    run = run_suite(
        tmp_path,
        f"--board=labgrid:{PLACE}",
        "-p",
        "no:randomly",
        f"--junitxml={junit}",
        env=_env(lab, tmp_path),
    )
    assert run.returncode == 0, run.stdout[-3000:]
    assert f"board: labgrid:{PLACE} (nano33, simulated)" in run.stdout
    cases = list(ET.parse(junit).getroot().iter("testcase"))
    instances = {
        p.get("value")
        for p in ET.parse(junit).iter("property")
        if p.get("name") == "board_instance"
    }
    assert len(cases) >= 10 and instances == {f"labgrid:{PLACE}"}
    assert _place_state(lab) == (None, None)


def _holding_test(tmp: Path, body: str) -> Path:
    test = tmp / "test_hold.py"
    test.write_text(
        f"import time\n\ndef test_device(dut):\n    print({HOLDING!r}, flush=True)\n    {body}\n"
    )
    return test


def _start_run(test: Path, address: str, tmp: Path, name: str) -> subprocess.Popen:
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        str(test),
        "-s",
        "-q",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:randomly",
        f"--board=labgrid:{PLACE}",
        "--hil-db=none",
        f"--model={DIGITS_MODEL}",
        "--hil-log-dir",
        str(tmp / name),
    ]
    # its own session: our SIGTERM reaches that run only
    return subprocess.Popen(
        cmd,
        cwd=Path(__file__).resolve().parents[1],
        env={**os.environ, **_env(address, tmp)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def _read_until(proc: subprocess.Popen, needle: str, timeout_s: float) -> str:
    """Lines of ``proc`` up to the one holding ``needle`` (the test's own deadline bounds it)."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout_s
    assert proc.stdout is not None
    for line in proc.stdout:
        seen.append(line)
        if needle in line:
            return "".join(seen)
        assert time.monotonic() < deadline, f"no {needle!r} within {timeout_s} s:\n{''.join(seen)}"
    raise AssertionError(f"the run ended before {needle!r}:\n{''.join(seen)}")


def test_second_run_queues_then_the_place_is_released_after_sigterm_and_a_failure(lab, tmp_path):
    holder = _start_run(_holding_test(tmp_path, "time.sleep(300)"), lab, tmp_path, "a")
    waiter = None
    try:
        _read_until(holder, HOLDING, 300)
        assert _place_state(lab)[0] is not None  # held by the first run
        second = tmp_path / "b"
        second.mkdir()
        waiter = _start_run(
            _holding_test(second, "assert False, 'a failing test'"), lab, tmp_path, "b"
        )
        _read_until(waiter, "waiting in its queue", 300)
        holder.send_signal(signal.SIGTERM)  # the first run tears down and gives the place back
        out_a = holder.communicate(timeout=300)[0]
        out_b = waiter.communicate(timeout=300)[0]
    finally:
        for proc in (holder, waiter):
            if proc and proc.poll() is None:
                proc.kill()
                proc.wait()
    assert holder.returncode != 0, out_a  # interrupted, not passed
    assert HOLDING in out_b and "a failing test" in out_b, out_b
    assert waiter.returncode == 1, out_b  # the failing test ran: it got the place
    assert _place_state(lab) == (None, None)  # released after the failing run too


def test_lab_mistakes_are_refused_in_one_line_before_anything_runs(lab, tmp_path):
    from labgrid.remote.generated import labgrid_coordinator_pb2 as pb

    client = LabClient.get(lab)
    client.run(client.session.stub.AddPlace(pb.AddPlaceRequest(name="untagged")))
    client.sync()
    cases = [
        ("labgrid:nowhere", lab, "has no place 'nowhere' (places: nano33-a, untagged)"),
        ("labgrid:untagged", lab, "set-tags board=nano33"),
        ("labgrid:x", "127.0.0.1:1", "cannot reach the labgrid coordinator at 127.0.0.1:1"),
    ]
    for board, address, message in cases:
        run = run_suite(tmp_path, f"--board={board}", env={"LG_COORDINATOR": address})
        assert run.returncode == 4, run.stdout[-2000:]
        assert "ERROR: tflm-hil: " in run.stdout and message in run.stdout, run.stdout
        assert "Traceback" not in run.stdout


def test_lab_loopback_command_runs_a_command_inside_a_lab_and_stops_it(tmp_path):
    probe = (
        "import os, socket, sys; host, port = os.environ['LG_COORDINATOR'].split(':'); "
        "socket.create_connection((host, int(port)), 5).close(); sys.exit(7)"
    )
    cmd = [
        sys.executable,
        "-m",
        "harness.cli",
        "lab",
        "loopback",
        "--model",
        str(DIGITS_MODEL),
        "--twins",
        "2",
        "--",
        sys.executable,
        "-c",
        probe,
    ]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert run.returncode == 7, run.stdout + run.stderr  # the command's own status
    first = run.stdout.splitlines()[0]
    assert '"board": "labgrid:nano33-0,nano33-1"' in first
    address = first.split('"LG_COORDINATOR": "')[1].split('"')[0]
    host, port = address.split(":")
    with pytest.raises(OSError):  # the coordinator is gone with the lab
        socket.create_connection((host, int(port)), 2).close()
