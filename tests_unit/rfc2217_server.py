"""A one-client RFC 2217 server on loopback for tests: what ser2net or a labgrid exporter does
for a board on another machine. pyserial's PortManager speaks the protocol; this only moves
bytes between the socket and the local port."""

from __future__ import annotations

import socket
import threading

import serial
import serial.rfc2217


class _Writer:
    """PortManager answers telnet negotiation through an object with write()."""

    def __init__(self, conn: socket.socket):
        self.conn = conn

    def write(self, data: bytes) -> None:
        self.conn.sendall(data)


class _NoModemLines:
    """A pseudo-terminal has no modem lines (TIOCMGET fails): report them all low."""

    cts = dsr = ri = cd = False

    def __init__(self, port: serial.Serial):
        self._port = port

    def __getattr__(self, name: str):
        return getattr(self._port, name)


class Rfc2217Server:
    def __init__(self, port: str):
        self.serial = serial.Serial(port, timeout=0.05)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"rfc2217://127.0.0.1:{self.listener.getsockname()[1]}?ign_set_control"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        self.listener.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(0.05)
                manager = serial.rfc2217.PortManager(_NoModemLines(self.serial), _Writer(conn))
                while not self._stop.is_set():
                    data = self.serial.read(self.serial.in_waiting or 1)
                    if data:
                        conn.sendall(b"".join(manager.escape(data)))
                    try:
                        received = conn.recv(4096)
                    except TimeoutError:
                        continue
                    if not received:
                        break
                    self.serial.write(b"".join(manager.filter(received)))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.listener.close()
        self.serial.close()
