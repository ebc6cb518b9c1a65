"""Parametrisation of the HIL suite from the session's configuration."""

from __future__ import annotations

import pytest

from harness.errors import ConfigError
from harness.plugin.badinput import refuse
from harness.plugin.bench_id import bench_id
from harness.plugin.config import listing_only, resolve_config
from harness.plugin.suite_metrics import load_suite_gates


def pytest_sessionstart(session: pytest.Session) -> None:
    """Bad options or gates stop the run here, in one line (``ERROR: ...``, exit 4): raised
    while a module is collected, the same error would be a collection error with a traceback."""
    if listing_only(session.config):
        return
    try:
        hil = resolve_config(session.config)
        load_suite_gates(hil.model, hil.gates)
    except ConfigError as exc:
        raise refuse(session.config, exc) from None


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    config = metafunc.config
    if listing_only(config):
        return
    try:
        if "gate" in metafunc.fixturenames:
            hil = resolve_config(config)
            gates = load_suite_gates(hil.model, hil.gates)
            metafunc.parametrize("gate", list(gates.values()), ids=list(gates), scope="session")
        if "device_kind" in metafunc.fixturenames:
            # the benchmark's name carries the model, the board and its figures' provenance:
            # pytest-benchmark compares runs by name, so two models never meet
            kind = bench_id(resolve_config(config))
            metafunc.parametrize("device_kind", [kind], ids=[kind])
    except ConfigError as exc:
        raise pytest.UsageError(f"tflm-hil: {exc}") from None
