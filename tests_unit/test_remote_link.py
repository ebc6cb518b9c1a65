"""The protocol over RFC 2217 (a board exported by ser2net or labgrid from another machine):
telnet escaping of 0xFF bytes and the extra latency must not cost a single wrong answer."""

from __future__ import annotations

import numpy as np
import pytest
import serial

from harness.protocol.client import DeviceClient
from harness.tflite.runtime import HostTflm

from .rfc2217_server import Rfc2217Server

# pyserial's RFC 2217 client calls Thread.setDaemon/setName, deprecated in Python 3.10
pytestmark = pytest.mark.filterwarnings("ignore:set(Daemon|Name)\\(\\) is deprecated")


def test_inference_through_an_rfc2217_exported_port(twin, digits_model):
    server = Rfc2217Server(twin.port)
    try:
        link = serial.serial_for_url(server.url, timeout=0.05)
        client = DeviceClient(link, byte_rate=64_000, reply_timeout=1.0)
        info = client.hello()
        assert info.model_hash == digits_model.sha256
        rng = np.random.default_rng(5)
        shape = digits_model.inputs[0].shape
        # all-0xFF inputs are telnet's IAC byte everywhere: the worst case for escaping
        xs = np.concatenate([np.full((1, *shape), -1, np.int8),
                             rng.integers(-128, 128, size=(15, *shape), dtype=np.int8)])
        results = list(client.infer_stream(x.tobytes() for x in xs))
        truth = HostTflm(digits_model).run((xs,))[0]
        assert [r.output for r in results] == [t.tobytes() for t in truth]
        assert client.counters.resends == 0
        link.close()
    finally:
        server.close()
