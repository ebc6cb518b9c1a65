"""The twin refuses an image that would not fit its board, with the figures, before anything
runs: through plan_image, the launcher, and the HIL suite as a user meets it."""

from __future__ import annotations

import re

import pytest

from harness.boards.catalog import load_catalog
from harness.errors import BuildError
from harness.sim.image import plan_image
from harness.sim.launcher import start_twin
from harness.tflite.model import TfliteModel
from harness.tflite.synthetic import write_fc_model

from .test_hil_suite import run_suite

NANO33 = load_catalog()["nano33"]
CORE = 1500  # stands for the core's static state; its real size is added by the twin


@pytest.fixture(scope="module")
def huge_model(tmp_path_factory):
    """1024 inputs x 800 units of int8 weights: 800 KiB, more than the Nano 33 leaves free."""
    return write_fc_model(tmp_path_factory.mktemp("big") / "huge.tflite", 1024, 800)


def test_a_model_larger_than_the_flash_is_refused_with_the_figures(huge_model):
    model = TfliteModel.load(huge_model)
    with pytest.raises(BuildError) as err:
        plan_image(NANO33, model, None, CORE)
    msg = str(err.value)
    assert "does not fit Arduino Nano 33 BLE / BLE Sense's flash" in msg
    kib = re.search(
        r"model ([0-9.]+) KiB \+ firmware ([0-9.]+) KiB \(estimated\) = ([0-9.]+) KiB "
        r"> ([0-9.]+) KiB available",
        msg,
    )
    assert kib, msg
    model_k, fw_k, total_k, limit_k = map(float, kib.groups())
    assert model_k == pytest.approx(len(model.data) / 1024, abs=0.1)
    assert total_k == pytest.approx(model_k + fw_k, abs=0.2)
    assert limit_k == pytest.approx(NANO33.app_flash_bytes / 1024, abs=0.1) and total_k > limit_k


def test_an_arena_larger_than_the_ram_is_refused_with_the_figures(tmp_path):
    model = TfliteModel.load(write_fc_model(tmp_path / "fc.tflite", 64, 4))
    # the receive buffer (staging included) is the firmware's too
    free = NANO33.app_ram_bytes - NANO33.footprint_ram_bytes - CORE - NANO33.link.window
    plan_image(NANO33, model, free, CORE)  # exactly what is left: fits
    with pytest.raises(BuildError, match=r"does not fit .*RAM: arena 1\d\d\.\d KiB \+ firmware"):
        plan_image(NANO33, model, free + 16, CORE)


def test_the_launcher_reports_the_refusal_as_a_build_failure(huge_model):
    with pytest.raises(BuildError, match=r"does not fit .*flash"):
        start_twin("nano33", huge_model)


def test_the_suite_refuses_it_before_the_twin_not_as_a_model_failure(tmp_path, huge_model):
    """The plugin's check before any device (issue 13: one line, exit 4) meets it first; the
    twin's own refusal above stays for what that check cannot know."""
    run = run_suite(tmp_path, "--model", str(huge_model))
    assert run.returncode == 4, run.stdout[-3000:]
    assert "does not fit Arduino Nano 33 BLE / BLE Sense" in run.stdout
    assert "FAILED" not in run.stdout and "Traceback" not in run.stdout
