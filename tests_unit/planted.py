"""A board driver whose upload fails, planted through tflm-hil's driver hook as a project's
plugin would: the suite meets a flash failure, an infrastructure fault, whatever the model."""

from __future__ import annotations

from pathlib import Path

FLASH_MESSAGE = "the upload stopped half-way (planted by the test)"

PLUGIN = f'''
import pytest
from harness.errors import FlashError
from harness.sim.driver import SimDriver


class FailingFlash(SimDriver):
    def flash(self, image):
        raise FlashError("{FLASH_MESSAGE}")


@pytest.hookimpl(tryfirst=True)
def pytest_tflm_hil_make_driver(spec, options, config, kind):
    return FailingFlash(spec, options)
'''


def failing_flash(folder: Path) -> tuple[list[str], dict[str, str]]:
    """The pytest arguments and environment that load the plugin, written into ``folder``."""
    (folder / "failing_flash.py").write_text(PLUGIN)
    return ["-p", "failing_flash"], {"PYTHONPATH": str(folder)}
