"""The device modules' libFuzzer targets (firmware/fuzz): they build with clang under ASan
and UBSan, every kept crasher and every seed runs clean, and the seeds are valid inputs. The
fuzzing itself runs in .ci/run (short) and `./dev fuzz` (long)."""

from __future__ import annotations

import struct

import pytest

from harness.firmware import fuzz
from harness.protocol.constants import Msg
from harness.protocol.framing import Frame, FrameDecoder


@pytest.mark.parametrize("target", fuzz.TARGETS)
def test_kept_crashers_and_seeds_run_clean_under_the_sanitizers(target, tmp_path):
    binary = fuzz.build(target)
    fuzz.write_seeds(target, tmp_path)
    inputs = [*sorted(fuzz.regressions_dir(target).glob("*")), *sorted(tmp_path.iterdir())]
    assert len(inputs) >= 3
    run = fuzz.replay(binary, inputs)
    assert run.returncode == 0, run.stderr[-3000:]
    assert f"Executed {inputs[-1]}" in run.stderr  # every input ran, not only the first


def test_mlperf_crashers_are_kept_as_regressions():
    """Two inputs found by fuzzing: control bytes echoed in an error line (fixed)."""
    kept = {p.name for p in fuzz.regressions_dir("mlperf").iterdir()}
    assert {"unknown-command-echoes-control-bytes",
            "invalid-hex-digit-echoes-a-control-byte"} <= kept


def test_a_planted_bug_is_caught(tmp_path):
    """The core target checks every reply frame: a corrupted reply must abort. An input that
    makes the core answer, replayed through the target built from a copy of the core whose
    CRC is off by one, fails."""
    src = fuzz.firmware_lib_dir("hil_core")
    broken = tmp_path / "src"
    broken.mkdir()
    for p in src.iterdir():
        text = p.read_text()
        if p.name == "hil_core.c":
            text = text.replace("uint32_t crc = ~c->tx_crc;", "uint32_t crc = ~c->tx_crc + 1u;")
        (broken / p.name).write_text(text)
    out = tmp_path / "core"
    import subprocess

    cmd = ["clang", *fuzz.FLAGS, "-I", str(broken), str(fuzz.fuzz_dir() / "fuzz_core.c"),
           *map(str, sorted(broken.glob("*.c"))), "-o", str(out)]
    subprocess.run(cmd, check=True, capture_output=True)
    seed = tmp_path / "hello"
    seed.write_bytes(fuzz.seeds("core")["00-hello"])
    run = fuzz.replay(out, [seed])
    assert run.returncode != 0 and "deadly signal" in run.stderr


def test_core_seeds_are_frames_the_host_codec_decodes():
    for name, data in fuzz.seeds("core").items():
        frames = FrameDecoder().feed(data[1:])
        assert frames and all(isinstance(f, Frame) for f in frames), name
    hello = FrameDecoder().feed(fuzz.seeds("core")["00-hello"][1:])[0]
    assert isinstance(hello, Frame) and hello.type == Msg.HELLO
    assert struct.unpack("<I", hello.payload) == (0x11223344,)
