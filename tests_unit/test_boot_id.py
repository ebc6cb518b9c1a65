"""The firmware's boot id (firmware/lib/hil_core/src/hil_boot.c), called in the core compiled
for the host (the simulated twin's library): it must change at every boot, including on a
board whose bootloader zeroes the RAM that holds the boot record (the Nano 33 BLE's does:
docs/firmware.md)."""

from __future__ import annotations

import ctypes

import pytest

from harness.sim.build import build_host_library


class Record(ctypes.Structure):
    _fields_ = [(n, ctypes.c_uint32) for n in ("magic", "seed", "count", "check")]


class Inputs(ctypes.Structure):
    _fields_ = [(n, ctypes.c_uint32) for n in ("entropy", "retained", "chip_uid")]


class Board:
    """One board's state across resets: RAM (the record), a retained register (GPREGRET2's 8
    bits), the hardware RNG's words, the chip's id; boot() does what count_boot() does."""

    def __init__(self, lib: ctypes.CDLL, rng: list[int], uid: int = 0x1234ABCD) -> None:
        self.next = lib.hil_boot_next
        self.next.argtypes = [ctypes.POINTER(Record), ctypes.POINTER(Inputs)]
        self.next.restype = ctypes.c_uint32
        self.ram = Record()
        self.retained = 0
        self.rng = iter(rng)
        self.uid = uid

    def boot(self, *, bootloader_zeroes_ram: bool, retained_bits: int = 8) -> int:
        if bootloader_zeroes_ram:
            ctypes.memset(ctypes.byref(self.ram), 0, ctypes.sizeof(self.ram))
        if retained_bits:
            self.retained = (self.retained + 1) % (1 << retained_bits)
        inputs = Inputs(next(self.rng), self.retained if retained_bits else 0, self.uid)
        return int(self.next(ctypes.byref(self.ram), ctypes.byref(inputs)))


@pytest.fixture(scope="module")
def core() -> ctypes.CDLL:
    return ctypes.CDLL(str(build_host_library("hil")))


def test_boot_id_changes_across_resets_that_zero_the_ram(core):
    board = Board(core, rng=[0x9E3779B9, 0x7F4A7C15, 0x94D049BB])
    ids = [board.boot(bootloader_zeroes_ram=True) for _ in range(3)]
    assert len(set(ids)) == 3 and 0 not in ids
    assert board.ram.count == 1  # the record was wiped each time: the counter alone gives nothing


def test_without_a_random_word_the_retained_counter_still_changes_it(core):
    board = Board(core, rng=[0] * 300)  # an RNG that gave nothing (timed out)
    ids = [board.boot(bootloader_zeroes_ram=True) for _ in range(256)]
    assert len(set(ids)) == 256  # GPREGRET2's 8 bits: 256 boots before an id may repeat


def test_the_old_firmware_scheme_repeats_its_id_there(core):
    """What issue 12 found: with neither source (the record alone), zeroed RAM gives the same id
    at every boot; the test above fails if the sources stop mattering."""
    board = Board(core, rng=[0] * 3)
    ids = {board.boot(bootloader_zeroes_ram=True, retained_bits=0) for _ in range(3)}
    assert len(ids) == 1


def test_where_ram_survives_the_record_counts_boots(core):
    board = Board(core, rng=[5, 5, 5], uid=0)
    ids = [board.boot(bootloader_zeroes_ram=False, retained_bits=0) for _ in range(3)]
    assert len(set(ids)) == 3
    assert board.ram.count == 3 and board.ram.magic == 0x48494C42  # "HILB"


def test_two_chips_with_the_same_history_get_different_ids(core):
    a = Board(core, rng=[7], uid=1)
    b = Board(core, rng=[7], uid=2)
    assert a.boot(bootloader_zeroes_ram=True) != b.boot(bootloader_zeroes_ram=True)
