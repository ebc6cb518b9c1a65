"""The float ABI is labelled in the handshake (firmware/include/hil_abi.h, from the compiler's own
macros) and a latency baseline never mixes two ABIs (registry and monitor comparisons)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from harness.firmware.pins import resolve_pins
from harness.firmware.pio_env import env_flags
from harness.metrics.regression import Threshold, compare
from harness.paths import firmware_dir
from harness.protocol.messages import float_abi_of
from harness.provenance import Figure

GCC = shutil.which("arm-none-eabi-gcc")


@pytest.mark.skipif(GCC is None, reason="the Arm toolchain is missing: ./dev setup installs it")
@pytest.mark.parametrize(
    ("flags", "abi"),
    [
        (["-mcpu=cortex-m4", "-mfloat-abi=soft"], "soft"),
        (["-mcpu=cortex-m4", "-mfloat-abi=softfp", "-mfpu=fpv4-sp-d16"], "softfp"),
        (["-mcpu=cortex-m4", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"], "hard"),
        # the last -mfloat-abi wins: PlatformIO's soft, then the env's softfp
        (["-mcpu=cortex-m4", "-mfloat-abi=soft", "-mfloat-abi=softfp", "-mfpu=fpv4-sp-d16"],
         "softfp"),
        (["-mcpu=cortex-m0plus"], "soft"),
    ],
)
def test_the_image_names_the_abi_it_was_compiled_with(flags, abi, tmp_path):
    src = tmp_path / "abi.c"
    src.write_text('#include "hil_abi.h"\nconst char *abi = HIL_FLOAT_ABI;\n')
    run = subprocess.run(
        [str(GCC), "-mthumb", *flags, "-E", f"-I{firmware_dir() / 'include'}", str(src)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert f'const char *abi = "{abi}";' in run.stdout


def test_the_boards_envs_take_softfp_over_platformios_soft():
    flags, unflags = env_flags("nano33ble", resolve_pins())
    assert unflags == ["-mfloat-abi=soft"]
    assert flags[-2:] == ["-mfloat-abi=softfp", "-mfpu=fpv4-sp-d16"]
    m7, _ = env_flags("portenta_h7_m7", resolve_pins())
    assert m7[-2:] == ["-mfloat-abi=softfp", "-mfpu=fpv5-d16"]
    m0, _ = env_flags("nanorp2040connect", resolve_pins())
    assert not [f for f in m0 if f.startswith("-mfloat-abi")]  # no FPU: soft, the default


def test_the_handshakes_core_version_names_the_abi():
    assert float_abi_of("arduino-mbed-4.5.0 float-abi=softfp") == "softfp"
    assert float_abi_of("none (emulated on QEMU mps2-an386) float-abi=softfp") == "softfp"
    assert float_abi_of("arduino-mbed-4.5.0") == ""  # an image from before the label
    assert float_abi_of("sim") == ""


def test_latency_of_two_abis_is_not_compared_but_other_figures_are():
    th = Threshold("*", better="lower", max_rise_pct=5.0)
    old, new = Figure(1000.0, "us"), Figure(1900.0, "us")
    mixed = compare("latency_us_median", old, new, th, ("softfp", "soft"))
    assert not mixed.comparable and not mixed.regressed
    assert "float ABI soft vs softfp" in mixed.describe()
    same = compare("latency_us_median", old, new, th, ("softfp", "softfp"))
    assert same.comparable and same.regressed
    arena = compare("arena_used", Figure(100.0), Figure(200.0), th, ("softfp", "soft"))
    assert arena.comparable and arena.regressed  # memory does not depend on the ABI
