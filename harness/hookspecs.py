"""Hooks a third party implements (in a conftest.py or a pytest plugin) to extend tflm-hil."""

from __future__ import annotations

import pytest


@pytest.hookspec(firstresult=True)
def pytest_tflm_hil_make_driver(spec, simulated, options, config, kind):
    """Return a BoardDriver for catalog entry ``spec`` (a BoardSpec), or None to pass.

    ``kind`` (a BoardKind) says what ``--board`` named: the board (``real``), its simulated
    twin (``sim``, ``--board=sim:<id>``; ``simulated`` is then True) or its emulation
    (``qemu``, ``--board=qemu:<id>``). ``options`` is a DriverOptions; ``config`` the pytest
    config. The first non-None result wins; tflm-hil's own implementation (twin, QEMU or
    PlatformIO) runs last.
    """
