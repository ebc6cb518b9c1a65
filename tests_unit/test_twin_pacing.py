"""The twin's link carries bytes no faster than the board's: a pseudo-terminal alone would
carry megabytes per second. Only a lower bound on the time is asserted: a busy machine can
make the transfer slower, never faster."""

from __future__ import annotations

import time

from harness.sim.launcher import start_twin

from .conftest import DIGITS_MODEL, connect

BAUD = 19_200  # 1920 bytes per second (8N1)


def test_echo_through_a_paced_uart_takes_at_least_the_wire_time():
    with start_twin("nano33", DIGITS_MODEL, baud=BAUD) as tw:
        client = connect(tw.port, BAUD / 10, reply_timeout=2.0)
        client.hello()
        payload = bytes(range(1, 256)) * 2  # 510 bytes, ~520 on the wire each way
        sent_before = client.counters.bytes_sent
        start = time.monotonic()
        for _ in range(3):
            assert client.echo(payload) == payload
        elapsed = time.monotonic() - start
        wire_bytes = client.counters.bytes_sent - sent_before
        # each echo crosses the wire twice, one direction after the other
        assert elapsed >= 2 * wire_bytes / (BAUD / 10) * 0.95, elapsed
        client.link.close()  # type: ignore[attr-defined]
