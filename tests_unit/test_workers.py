"""pytest -n N, one worker per board: each worker's own board or place, a run with fewer boards
than workers refused before any worker starts, and the merged JUnit file naming the board of
every test (three twins, three workers)."""

from __future__ import annotations

import collections
import json
import re
import sqlite3
import time
import xml.etree.ElementTree as ET

import pytest

from harness.boards.driver import DriverOptions
from harness.errors import ConfigError
from harness.plugin.workers import Worker, board_instance, choose_board, choose_place

from .planted import FLASH_MESSAGE, failing_flash
from .test_discovery import NANO33, RP2040, nano, ports
from .test_hil_suite import run_suite
from .test_twin_limits import huge_model  # noqa: F401 - a fixture

BOARDS = ports(nano("/dev/ttyACM1", "BBB"), RP2040, nano("/dev/ttyACM0", "AAA"))


def test_each_worker_takes_its_own_board_by_serial_number():
    chosen = [
        choose_board(NANO33, DriverOptions(), Worker(f"gw{i}", i, 2), BOARDS).board_serial
        for i in range(2)
    ]
    assert chosen == ["AAA", "BBB"]  # ordered by serial number, the RP2040 is not a nano33
    one = DriverOptions(port="/dev/ttyACM0")
    assert choose_board(NANO33, one, Worker("main", 0, 1), BOARDS) is one  # no -n: unchanged


def test_fewer_boards_than_workers_is_refused_naming_both():
    with pytest.raises(ConfigError, match=r"pytest -n 3 .* 2 nano33 boards .*AAA, BBB.*-n 2"):
        choose_board(NANO33, DriverOptions(), Worker("gw2", 2, 3), BOARDS)
    with pytest.raises(ConfigError, match="drop --port and --board-serial"):
        choose_board(NANO33, DriverOptions(board_serial="AAA"), Worker("gw0", 0, 2), BOARDS)
    with pytest.raises(ConfigError, match=r"1 labgrid places is there \(lab-a\)"):
        choose_place(["lab-a"], Worker("gw1", 1, 2))
    assert choose_place(["lab-a", "lab-b"], Worker("gw1", 1, 2)) == "lab-b"


def test_board_instance_names_the_place_the_serial_or_the_worker():
    from harness.boards.catalog import BoardKind

    w = Worker("gw1", 1, 2)
    assert board_instance("labgrid:a,b", BoardKind.SIM, DriverOptions(place="b"), w) == "labgrid:b"
    real = DriverOptions(board_serial="AAA")
    assert board_instance("nano33", BoardKind.REAL, real, w) == "AAA"
    assert board_instance("sim:nano33", BoardKind.SIM, DriverOptions(), w) == "sim:nano33@gw1"
    dut = DriverOptions(port="/dev/ttyUSB0")
    assert board_instance("mlperf:/dev/ttyUSB0", BoardKind.MLPERF, dut, w) == "/dev/ttyUSB0"


@pytest.mark.parametrize(
    ("board", "message"),
    [
        ("nano33", "0 nano33 boards are there (none): run with -n 1"),
        ("labgrid:only-one", "1 labgrid places is there (only-one): run with -n 1"),
        ("mlperf:/dev/ttyUSB9", "1 MLPerf DUTs is there (/dev/ttyUSB9): run with -n 1"),
    ],
)
def test_run_with_fewer_boards_than_workers_stops_before_workers_start(tmp_path, board, message):
    start = time.monotonic()
    run = run_suite(tmp_path, "-n", "2", f"--board={board}")
    assert run.returncode == 4, run.stdout[-2000:]
    assert f"ERROR: tflm-hil: pytest -n 2 runs one worker per board, but {message}" in run.stdout
    assert "Traceback" not in run.stdout
    # no worker was started (xdist restarts a worker that fails at start-up, for minutes)
    assert "bringing up nodes" not in run.stdout
    assert time.monotonic() - start < 120


def test_three_twins_three_workers_one_merged_report(tmp_path):
    junit, page = tmp_path / "junit.xml", tmp_path / "report.html"
    run = run_suite(
        tmp_path, "-n", "3", "-p", "no:randomly", f"--junitxml={junit}", f"--html={page}"
    )
    assert run.returncode == 0, run.stdout[-3000:]
    cases = list(ET.parse(junit).getroot().iter("testcase"))
    instances = [
        [p.get("value") for p in case.iter("property") if p.get("name") == "board_instance"]
        for case in cases
    ]
    assert len(cases) >= 10 and all(len(i) == 1 for i in instances), instances
    counts = collections.Counter(i[0] for i in instances)
    assert set(counts) == {"sim:nano33@gw0", "sim:nano33@gw1", "sim:nano33@gw2"}, counts
    # the results store: one run per worker's board, labelled with it and with the session
    with sqlite3.connect(tmp_path / "results.sqlite") as db:
        runs = [
            (json.loads(lab), json.loads(argv))
            for lab, argv in db.execute("SELECT labels, argv FROM runs")
        ]
    assert {lab["board_instance"] for lab, _ in runs} == set(counts)
    assert len(runs) == 3 and len({lab["xdist_session"] for lab, _ in runs}) == 1
    assert all("-n" in argv and "3" in argv for _, argv in runs), runs  # pytest's, not execnet's
    # the summary the workers filled, folded by the controller: the terminal's device section
    # (the boards that opened a device), the HTML report's metrics and latency plot
    boards = re.search(r"board_instance: (.*)", run.stdout)
    assert boards and set(boards.group(1).split(", ")) <= set(counts), run.stdout[-3000:]
    assert re.search(r"flash/ram: \d+ / \d+ bytes \(estimated\)", run.stdout)
    html = page.read_text()
    assert "metrics (latency estimated by the twin" in html
    assert "the board is expected within" in html  # the estimate's band, from the timing worker


def test_bad_input_is_refused_by_the_controller_before_any_worker(
    tmp_path,
    huge_model,  # noqa: F811 - the fixture
):
    """A model too big for the board is bad input (issue 13): with pytest -n the controller
    refuses it in one line, exit 4, before a worker starts (a worker's refusal would be an
    INTERNALERROR). What this test checked before, the workers' infrastructure failures
    classified by the controller, is tested below with a flash that fails."""
    run = run_suite(tmp_path, "-n", "2", "--model", str(huge_model))
    assert run.returncode == 4, run.stdout[-3000:]
    assert "does not fit" in run.stdout and "INTERNALERROR" not in run.stdout
    assert "bringing up nodes" not in run.stdout



def test_an_infrastructure_failure_on_the_workers_is_classified_by_the_controller(tmp_path):
    """The workers' failures reach xdist's controller with their category: it lists them and
    exits as infrastructure (6), not as interrupted (2) or a model failure (1)."""
    args, env = failing_flash(tmp_path)
    run = run_suite(tmp_path, "-n", "2", *args, env=env)
    assert run.returncode == 6, run.stdout[-3000:]
    assert "tflm-hil failures by category" in run.stdout
    assert "[flash] (infrastructure)" in run.stdout, run.stdout[-3000:]
    assert FLASH_MESSAGE in run.stdout
