"""Parametrisation of the HIL suite from the session's configuration."""

from __future__ import annotations

import pytest

from harness.errors import ConfigError
from harness.plugin.config import resolve_config
from harness.plugin.suite_metrics import load_suite_gates


def pytest_sessionstart(session: pytest.Session) -> None:
    """Bad options or gates stop the run here, in one line (``ERROR: ...``, exit 4): raised
    while a module is collected, the same error would be a collection error with a traceback."""
    try:
        hil = resolve_config(session.config)
        load_suite_gates(hil.model, hil.gates)
    except ConfigError as exc:
        raise pytest.UsageError(f"tflm-hil: {exc}") from None


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    config = metafunc.config
    try:
        if "gate" in metafunc.fixturenames:
            hil = resolve_config(config)
            gates = load_suite_gates(hil.model, hil.gates)
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


@pytest.fixture
def described_dut(dut, board):
    """The device, for a test of the figures our firmware reports about itself (protocol,
    arena, stack, per-operator counts, image sizes); an MLPerf Tiny DUT reports none of them."""
    if not board.describes_itself:
        pytest.skip(
            f"{board.spec.name} reports only a benchmark id: no protocol version, arena, stack, "
            "per-operator counts or image sizes to check"
        )
    return dut
