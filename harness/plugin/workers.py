"""pytest-xdist: one worker per board.

``pytest -n N`` runs N workers; each takes its own board, chosen before anything is built or
flashed: worker ``gwI`` takes the I-th attached board of the kind (ordered by USB serial
number, and locks it as a single run does), the I-th place of ``--board=labgrid:P0,P1,...``,
or starts its own twin or QEMU. Fewer boards than workers fails at once, naming both counts.
xdist's controller merges the workers' results into one JUnit file and one HTML report;
every test carries the JUnit property ``board_instance`` (the serial number or port, the
place, or the twin's worker) so the merged report says which board ran it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import pytest

from ..boards.catalog import BoardKind, BoardSpec, resolve_board
from ..boards.discovery import ListPorts, attached_ports, role_of
from ..boards.driver import DriverOptions
from ..errors import ConfigError
from ..lab.place import LAB_PREFIX


@dataclass(frozen=True)
class Worker:
    id: str  # xdist's gw0, gw1...; "main" without xdist
    index: int
    count: int


def this_worker(config: pytest.Config) -> Worker:
    wi = getattr(config, "workerinput", None)  # xdist sets it in workers only
    if not wi:
        return Worker("main", 0, 1)
    wid = str(wi["workerid"])
    return Worker(wid, int(wid.removeprefix("gw")), int(wi["workercount"]))


def run_labels(config: pytest.Config, instance: str) -> dict[str, str]:
    """The labels of this process's run in the results store: the board it ran on, and with
    pytest -n the session every worker's run belongs to (xdist's test-run id, one per
    ``pytest -n`` invocation), so the store can fold a session's runs together."""
    labels = {"board_instance": instance} if instance else {}
    wi = getattr(config, "workerinput", None)
    if wi and wi.get("testrunuid"):
        labels["xdist_session"] = str(wi["testrunuid"])
    return labels


def run_argv(config: pytest.Config) -> list[str] | None:
    """The command line of the run: in an xdist worker, the controller's (the worker's own is
    execnet's ``-c``); None elsewhere (the process's own)."""
    wi = getattr(config, "workerinput", None)
    return [str(a) for a in wi["mainargv"]] if wi and "mainargv" in wi else None


def planned_workers(config: pytest.Config) -> int:
    """In xdist's controller: how many workers it starts (0 in a worker or without -n)."""
    if getattr(config, "workerinput", None) is not None:
        return 0
    n = config.getoption("numprocesses", None)  # xdist resolves -n auto to a number first
    return int(n) if n and config.getoption("dist", "no") != "no" else 0


def check_board_count(config: pytest.Config, list_ports: ListPorts | None = None) -> None:
    """In the controller, before any worker starts: a board for every worker, or stop now.
    (A worker that fails at start-up is restarted by xdist, again and again.)"""
    n = planned_workers(config)
    board = str(config.getoption("board"))
    if n < 2:
        return
    planned = Worker("controller", n - 1, n)
    if board.startswith(LAB_PREFIX):
        choose_place([p for p in board.removeprefix(LAB_PREFIX).split(",") if p], planned)
        return
    spec, kind = resolve_board(board)
    if kind is BoardKind.MLPERF:  # one DUT, on the port its name gives
        raise _too_few(planned, "MLPerf DUTs", [board.removeprefix("mlperf:")])
    if kind is BoardKind.REAL:
        opt = config.option
        choose_board(
            spec, DriverOptions(port=opt.port, board_serial=opt.board_serial), planned, list_ports
        )


def _too_few(worker: Worker, what: str, found: list[str]) -> ConfigError:
    return ConfigError(
        f"pytest -n {worker.count} runs one worker per board, but {len(found)} {what} "
        f"{'is' if len(found) == 1 else 'are'} there ({', '.join(found) or 'none'}): "
        f"run with -n {max(len(found), 1)}, or attach more"
    )


def choose_place(places: list[str], worker: Worker) -> str:
    if len(places) < worker.count:
        raise _too_few(worker, "labgrid places", places)
    return places[worker.index]


def choose_board(
    spec: BoardSpec, options: DriverOptions, worker: Worker, list_ports: ListPorts | None = None
) -> DriverOptions:
    """The worker's own board among the attached ones, by USB serial number."""
    if worker.count == 1:
        return options
    if options.port or options.board_serial:
        raise ConfigError(
            "pytest -n gives each worker its own board: drop --port and --board-serial "
            "(or run one board without -n)"
        )
    serials = sorted(
        p.serial_number or p.device for p in attached_ports(list_ports) if role_of(spec, p)
    )
    if len(serials) < worker.count:
        raise _too_few(worker, f"{spec.id} boards", serials)
    return replace(options, board_serial=serials[worker.index])


def board_instance(board_name: str, kind: BoardKind, options: DriverOptions, worker: Worker) -> str:
    """Which board a worker's tests run on: its place, its serial number or port (a board, an
    MLPerf DUT), or (for a twin or QEMU, which each worker starts for itself) the board and
    the worker."""
    if options.place:
        return f"labgrid:{options.place}"
    if kind in (BoardKind.REAL, BoardKind.MLPERF):
        return options.board_serial or options.port or board_name
    return f"{board_name}@{worker.id}"
