"""Hooks a third party implements (in a conftest.py or a pytest plugin) to extend tflm-hil."""

from __future__ import annotations

import pytest


@pytest.hookspec(firstresult=True)
def pytest_tflm_hil_make_driver(spec, simulated, options, config):
    """Return a BoardDriver for catalog entry ``spec`` (a BoardSpec), or None to pass.

    ``simulated`` is True for ``--board=sim:<id>``; ``options`` is a DriverOptions; ``config``
    the pytest config. The first non-None result wins; tflm-hil's own implementation (twin or
    PlatformIO) runs last.
    """
