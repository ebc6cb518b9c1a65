"""A labgrid place from Python: read its tags, queue for it, acquire it, give it back.

labgrid documents no Python call that acquires a place (its ``RemotePlace`` resource expects
one acquired with ``labgrid-client``), so this talks to the coordinator through the client
session ``RemotePlace`` itself uses (``labgrid.remote.client.start_session``: the place and
resource tables) and the coordinator's gRPC calls behind ``labgrid-client reserve``,
``acquire``, ``cancel-reservation`` and ``release``.

labgrid's conventions hold: the coordinator is ``LG_COORDINATOR``; a run waits for a place on
a reservation (the coordinator's queue, not a file lock); the place's tags name what is
behind it. One client session per process and coordinator: a second one in the same process
is refused by the coordinator (it sees the same peer twice).
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from ..errors import ConfigError, LinkError

LAB_PREFIX = "labgrid:"
DEFAULT_COORDINATOR = "127.0.0.1:20408"  # labgrid's own default
# The place's tags that name the board behind it: board=<catalog id>, kind=sim for a
# simulated twin exported like a board (kind=real, the default, for a board).
BOARD_TAG, KIND_TAG = "board", "kind"
POLL_S = 1.0  # each poll refreshes the reservation (the coordinator drops it 60 s after the last)


def coordinator_address() -> str:
    return os.environ.get("LG_COORDINATOR") or DEFAULT_COORDINATOR


@dataclass(frozen=True)
class PlaceBoard:
    """What a place's tags say is behind it."""

    place: str
    board: str  # catalog id
    simulated: bool

    @property
    def board_name(self) -> str:
        """The name ``--board`` would give the same board attached here."""
        return f"sim:{self.board}" if self.simulated else self.board


def _session_error() -> tuple[type[BaseException], ...]:
    from labgrid.remote.client import Error

    return (Error, OSError, asyncio.TimeoutError)


class LabClient:
    """This process's session with one coordinator."""

    _open: ClassVar[dict[str, LabClient]] = {}

    def __init__(self, address: str):
        from labgrid.remote.client import start_session

        self.address = address
        try:
            self.session: Any = start_session(address)
        except _session_error() as exc:
            # met while the options are read (the place's tags): a setting to fix
            raise ConfigError(
                f"cannot reach the labgrid coordinator at {address} ({exc}): start it, or set "
                "LG_COORDINATOR to its HOST:PORT"
            ) from exc

    @classmethod
    def get(cls, address: str | None = None) -> LabClient:
        address = address or coordinator_address()
        if address not in cls._open:
            cls._open[address] = cls(address)
        return cls._open[address]

    def run(self, coro: Any) -> Any:
        return self.session.loop.run_until_complete(coro)

    def sync(self) -> None:
        self.run(self.session.sync_with_coordinator())

    def place(self, name: str) -> Any:
        place = self.session.places.get(name)
        if place is None:
            known = ", ".join(sorted(self.session.places)) or "none"
            raise ConfigError(
                f"the labgrid coordinator at {self.address} has no place {name!r} (places: "
                f"{known}): create it with labgrid-client -p {name} create (docs/lab.md)"
            )
        return place

    def describe(self, name: str) -> PlaceBoard:
        tags = self.place(name).tags
        if BOARD_TAG not in tags:
            raise ConfigError(
                f"labgrid place {name!r} has no tag {BOARD_TAG}=<catalog id> naming its board: "
                f"labgrid-client -p {name} set-tags {BOARD_TAG}=nano33 (docs/lab.md)"
            )
        kind = tags.get(KIND_TAG, "real")
        if kind not in ("real", "sim"):
            raise ConfigError(
                f"labgrid place {name!r}: tag {KIND_TAG}={kind}, expected real or sim"
            )
        return PlaceBoard(name, tags[BOARD_TAG], kind == "sim")

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.run(self.session.stop())
            self.run(self.session.close())
        LabClient._open.pop(self.address, None)


@atexit.register
def _close_all() -> None:
    for client in list(LabClient._open.values()):
        client.close()


def describe_place(name: str, address: str | None = None) -> PlaceBoard:
    return LabClient.get(address).describe(name)


class HeldPlace:
    """A place this run reserved and acquired; ``release()`` gives it back (idempotent)."""

    def __init__(self, client: LabClient, name: str, token: str):
        self.client, self.name, self.token = client, name, token
        self.held = True

    def serial_url(self, timeout_s: float = 30.0) -> str:
        """The place's exported serial port as a pyserial URL. Read it afresh each time: the
        exporter starts ser2net on a new TCP port whenever the board's tty comes back."""
        deadline = time.monotonic() + timeout_s
        while True:
            place = self.client.place(self.name)
            for (_name, cls), entry in self.client.session.get_target_resources(place).items():
                args = entry.args
                if cls == "NetworkSerialPort" and entry.data.get("avail") and args.get("port"):
                    # ign_set_control: ser2net never acknowledges DTR/RTS on a port without
                    # modem lines (a pseudo-terminal), and pyserial would time out waiting
                    return f"rfc2217://{args['host']}:{args['port']}?ign_set_control"
            if time.monotonic() > deadline:
                raise LinkError(
                    f"labgrid place {self.name} has no exported serial port that is up after "
                    f"{timeout_s:.0f} s: check its exporter (labgrid-client -p {self.name} show)"
                )
            self.client.sync()
            time.sleep(0.1)

    def exporter_resource(self) -> dict[str, Any]:
        """The NetworkSerialPort's parameters: host, port, and extra.path (the exporter's tty)."""
        place = self.client.place(self.name)
        for (_name, cls), entry in self.client.session.get_target_resources(place).items():
            if cls == "NetworkSerialPort":
                return dict(entry.args)
        raise LinkError(f"labgrid place {self.name} exports no serial port")

    def release(self) -> None:
        """Cancels the reservation, then releases: in the other order the coordinator hands the
        place to the next waiting run only at its next scheduling pass (15 s later)."""
        if not self.held:
            return
        from labgrid.remote.generated import labgrid_coordinator_pb2 as pb

        self.held = False
        stub = self.client.session.stub
        with contextlib.suppress(Exception):
            self.client.run(stub.CancelReservation(pb.CancelReservationRequest(token=self.token)))
        self.client.run(stub.ReleasePlace(pb.ReleasePlaceRequest(placename=self.name)))


def acquire_place(
    name: str,
    *,
    address: str | None = None,
    wait_s: float = 600.0,
    progress: Callable[[str], None] | None = None,
) -> HeldPlace:
    """Queues for place ``name`` on a reservation (refreshed while waiting) and acquires it."""
    from labgrid.remote.common import ReservationState
    from labgrid.remote.generated import labgrid_coordinator_pb2 as pb

    client = LabClient.get(address)
    client.place(name)  # a missing place is a ConfigError before anything waits
    stub = client.session.stub
    # The scheduler tags every place name=<place>: this filter queues for exactly that one.
    request = pb.CreateReservationRequest(
        filters={"main": pb.Reservation.Filter(filter={"name": name})}, prio=0
    )
    token = client.run(stub.CreateReservation(request)).reservation.token
    held = HeldPlace(client, name, token)
    try:
        deadline = time.monotonic() + wait_s
        told = False
        while True:
            poll = pb.PollReservationRequest(token=token)
            state = ReservationState(client.run(stub.PollReservation(poll)).reservation.state)
            if state is not ReservationState.waiting:
                break
            if not told and progress:
                holder = client.place(name).acquired or "another reservation"
                progress(f"labgrid place {name} is in use ({holder}): waiting in its queue")
                told = True
            if time.monotonic() > deadline:
                raise LinkError(
                    f"labgrid place {name} stayed in use for {wait_s:.0f} s: raise "
                    f"--lock-timeout, or see who holds it (labgrid-client -p {name} show)"
                )
            time.sleep(POLL_S)
        if state is not ReservationState.allocated:
            raise LinkError(f"the reservation for labgrid place {name} ended as {state.name}")
        client.run(stub.AcquirePlace(pb.AcquirePlaceRequest(placename=name)))
        client.sync()
    except BaseException:  # Ctrl-C while queued too: leave no reservation or place behind
        with contextlib.suppress(Exception):
            held.release()
        raise
    return held
