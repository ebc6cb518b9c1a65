"""Flash and static RAM read from a real Cortex-M ELF, and the check against the catalog."""

from __future__ import annotations

import pytest

from harness.boards.catalog import load_catalog
from harness.errors import BuildError
from harness.firmware.elfsize import read_elf_sizes
from harness.firmware.limits import AppLimits, app_limits, check_fits

from .arm_elf import build_elf, size_table
from .conftest import REPO

NANO33 = load_catalog()["nano33"]


def test_sizes_match_binutils_and_leave_out_heap_and_stack(tmp_path):
    elf = build_elf(tmp_path, model=1000, arena=3000)
    table = size_table(elf)
    sizes = read_elf_sizes(elf)
    assert sizes.flash == table[".text"] + table[".rodata"] + table[".data"]
    assert sizes.ram == table[".data"] + table[".bss"] + table[".noinit"]
    assert table[".rodata"] >= 1000 and table[".bss"] >= 3000
    assert table[".heap"] == 0x8000  # reserved, not static use: not counted
    assert ".heap" not in sizes.breakdown()


def test_bigger_model_and_arena_show_up_where_they_belong(tmp_path):
    small = read_elf_sizes(build_elf(tmp_path / "a", model=1000, arena=3000))
    big = read_elf_sizes(build_elf(tmp_path / "b", model=9000, arena=11000))
    assert big.flash - small.flash == 8000
    assert big.ram - small.ram == 8000


def test_fit_check_against_the_catalog(tmp_path):
    sizes = read_elf_sizes(build_elf(tmp_path, model=5000, arena=20000))
    limits = app_limits(NANO33)
    assert limits == AppLimits(flash_bytes=983_040, ram_bytes=262_144)
    check_fits(NANO33, sizes, limits, arena=20000)  # fits
    too_small = r"does not fit .*flash: 4\.9 KiB > 4\.0 KiB available \(.*\.rodata 5000"
    with pytest.raises(BuildError, match=too_small):
        check_fits(NANO33, sizes, AppLimits(flash_bytes=4096, ram_bytes=262_144), arena=20000)
    with pytest.raises(BuildError, match=r"RAM: 19\.\d KiB static > 16\.0 KiB .*arena is 19\.5"):
        check_fits(NANO33, sizes, AppLimits(flash_bytes=983_040, ram_bytes=16384), arena=20000)


def test_catalog_entries_without_app_limits_fall_back_to_the_chip(tmp_path):
    toml = tmp_path / "boards.toml"
    entry = (REPO / "harness/data/boards.toml").read_text().split("[boards.nano33rev2]")[0]
    toml.write_text("\n".join(ln for ln in entry.splitlines() if not ln.startswith("app_")))
    bare = load_catalog(toml)["nano33"]
    assert app_limits(bare) == AppLimits(bare.flash_bytes, bare.ram_bytes)
    for board in load_catalog().values():
        limits = app_limits(board)
        assert 0 < limits.flash_bytes <= board.flash_bytes, board.id
        assert 0 < limits.ram_bytes <= board.ram_bytes, board.id


def test_missing_or_broken_elf_is_a_build_error(tmp_path):
    with pytest.raises(BuildError, match="left no ELF"):
        read_elf_sizes(tmp_path / "none.elf")
    (tmp_path / "bad.elf").write_bytes(b"\x7fELF garbage")
    with pytest.raises(BuildError, match="cannot read the firmware ELF"):
        read_elf_sizes(tmp_path / "bad.elf")
