"""Parametrisation of the HIL suite from the session's configuration."""

from __future__ import annotations

import pytest

from harness.errors import ConfigError
from harness.metrics.gates import load_gates
from harness.plugin.config import resolve_config


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    config = metafunc.config
    try:
        if "gate" in metafunc.fixturenames:
            hil = resolve_config(config)
            gates = load_gates(hil.model, hil.gates)
            metafunc.parametrize("gate", list(gates.values()), ids=list(gates), scope="session")
        if "device_kind" in metafunc.fixturenames:
            # the benchmark's name carries the board and its figures' provenance (measured,
            # emulated, estimated): pytest-benchmark compares runs by name, so figures of two
            # provenances never meet
            hil = resolve_config(config)
            kind = f"{hil.board_name}-{hil.kind.provenance}"
            metafunc.parametrize("device_kind", [kind], ids=[kind.replace(":", "_")])
    except ConfigError as exc:
        raise pytest.UsageError(f"tflm-hil: {exc}") from None
