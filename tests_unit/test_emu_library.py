"""The library source, PlatformIO-style: fetched at run time from a git repository into the user
cache (only src/ and the licence checked out), compiled for the emulated board once per
(commit, flags, compiler). A stand-in library in a local repository plays the TFLM one."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from harness.boards.catalog import load_catalog
from harness.cli import main as cli
from harness.emu.libcache import build_library
from harness.emu.toolchain import Toolchain, board_flags
from harness.errors import BuildError
from harness.firmware.library import find_library, require_library
from harness.firmware.pins import resolve_pins

FILES = {
    "src/kernel.cpp": "int kernel(int x) { return 2 * x; }\n",
    "src/sub/util.c": "int util(void) { return 7; }\n",
    # what the firmware never builds: it would not compile here
    "src/peripherals/audio.cpp": "#error the audio peripherals are not built\n",
    "src/test_over_serial/serial.cpp": "#error test_over_serial is not built\n",
    "LICENSE": "Apache-2.0\n",
    "docs/manual.md": "outside src/: not checked out\n",
}


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
        cwd=cwd, check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip


@pytest.fixture
def upstream(tmp_path, monkeypatch) -> tuple[Path, str]:
    """A library repository with one commit (tagged v1), and an empty user cache."""
    monkeypatch.setenv("TFLM_HIL_CACHE", str(tmp_path / "cache"))
    repo = tmp_path / "upstream"
    for rel, text in FILES.items():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text(text)
    git(repo.parent, "init", "-q", str(repo))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "library")
    git(repo, "tag", "v1")
    return repo, git(repo, "rev-parse", "HEAD")


def test_fetch_checks_out_src_and_the_licence_at_the_ref(upstream, capsys):
    repo, commit = upstream
    assert cli(["firmware", "fetch", "--ref", "v1", "--from", str(repo)]) == 0
    assert commit[:12] in capsys.readouterr().out
    checkout = find_library("v1")
    assert checkout is not None and checkout.commit == commit
    assert (checkout.src / "kernel.cpp").is_file() and (checkout.root / "LICENSE").is_file()
    assert not (checkout.root / "docs").exists()
    # by commit, too; the checkout is found by the ref a build is pinned to
    assert cli(["firmware", "fetch", "--ref", commit, "--from", str(repo)]) == 0
    assert find_library(commit) is not None


def test_a_missing_source_names_the_command_that_fetches_it(upstream):
    with pytest.raises(BuildError, match=r"`tflm-hil firmware fetch --ref 0123abcd`"):
        require_library("0123abcd")
    with pytest.raises(BuildError, match=r"`tflm-hil firmware fetch` \("):  # the default pin
        require_library(resolve_pins({}).tflm_ref)


def test_fetching_a_ref_the_repository_lacks_is_a_build_failure(upstream, capsys):
    repo, _ = upstream
    assert cli(["firmware", "fetch", "--ref", "no-such-tag", "--from", str(repo)]) == 3
    assert "[build]" in capsys.readouterr().err
    assert find_library("no-such-tag") is None


def test_objects_are_compiled_once_per_commit_flags_and_compiler(upstream, tmp_path):
    repo, commit = upstream
    assert cli(["firmware", "fetch", "--ref", commit, "--from", str(repo)]) == 0
    checkout = require_library(commit)
    flags = board_flags(load_catalog()["nano33"].emulation, resolve_pins({}))  # type: ignore[arg-type]
    toolchain = Toolchain.find()
    log = tmp_path / "build.log"
    first = build_library(checkout, flags, toolchain, log)
    assert (first.compiled, first.cached) == (2, 0)  # kernel.cpp and util.c, nothing else
    second = build_library(checkout, flags, toolchain, log)
    assert (second.compiled, second.cached) == (0, 2)
    assert second.archive == first.archive
    members = subprocess.run(
        [toolchain.ar, "t", str(first.archive)], check=True, capture_output=True, text=True
    ).stdout.split()
    assert sorted(members) == ["kernel.cpp.o", "sub__util.c.o"]
    other = build_library(checkout, flags.with_defines("SOME_OPTION=1"), toolchain, log)
    assert other.compiled == 2 and other.archive != first.archive


def test_every_emulated_board_compiles_with_its_boards_flags():
    """The catalog's CPU flags, the PlatformIO build's (emulation.toml) and platformio.ini's
    own -D flags, the pins filled in: what the board's PlatformIO build passes."""
    pins = resolve_pins({})
    emulated = [b for b in load_catalog().values() if b.emulation]
    assert {b.id for b in emulated} >= {"nano33", "nano33rev2"}
    for board in emulated:
        assert board.emulation is not None
        flags = board_flags(board.emulation, pins)
        args = flags.for_source(Path("x.cpp"))
        assert f"-mcpu={board.emulation.cpu}" in args and "-mfloat-abi=softfp" in args
        assert "-fno-rtti" in args and "-std=gnu11" not in args
        assert "-std=gnu11" in flags.for_source(Path("x.c"))
        for define in ("ARDUINO=10810", "ARDUINO_ARCH_MBED", "ARDUINO_EXCLUDE_CODE",
                       f'HIL_TFLM_VERSION="{pins.tflm_ref}"'):
            assert f"-D{define}" in args, define
