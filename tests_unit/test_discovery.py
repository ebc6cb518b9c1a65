"""Discovery: fake pyserial port lists with several boards, choice by serial number, clear errors,
re-enumeration found by serial number (never by "the newest port")."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from harness.boards.catalog import load_catalog
from harness.boards.cli import as_json, render
from harness.boards.cli import main as boards_main
from harness.boards.discovery import (
    attached_ports,
    find_board,
    matches_for_port,
    wait_for_board,
    wait_for_new_port,
)
from harness.errors import ConfigError, LinkError

CATALOG = load_catalog()
NANO33 = CATALOG["nano33"]


@dataclass
class FakePort:
    """What pyserial's ListPortInfo carries."""

    device: str
    vid: int | None = None
    pid: int | None = None
    serial_number: str | None = None
    description: str = "n/a"
    manufacturer: str | None = None
    product: str | None = None
    location: str | None = None


def nano(device: str, serial: str, bootloader: bool = False) -> FakePort:
    return FakePort(device, 0x2341, 0x005A if bootloader else 0x805A, serial, product="Nano 33 BLE")


FTDI = FakePort("/dev/ttyUSB0", 0x0403, 0x6001, "A9K3L2", product="FT232R USB UART")
RP2040 = FakePort("/dev/ttyACM7", 0x2341, 0x005E, "RP1", product="Nano RP2040 Connect")
UART = FakePort("/dev/ttyS0")  # a built-in UART: no USB ids


def ports(*items: FakePort):
    return lambda: list(items)


def test_one_board_among_other_devices_is_found():
    m = find_board(NANO33, list_ports=ports(UART, FTDI, nano("/dev/ttyACM0", "ABC"), RP2040))
    assert (m.port.device, m.role, m.port.serial_number) == ("/dev/ttyACM0", "app", "ABC")


def test_several_boards_need_a_serial_number_and_the_error_lists_them():
    listing = ports(nano("/dev/ttyACM0", "AAA"), nano("/dev/ttyACM1", "BBB"), FTDI)
    with pytest.raises(ConfigError) as err:
        find_board(NANO33, list_ports=listing)
    msg = str(err.value)
    assert "2 boards match nano33" in msg and "--board-serial" in msg
    assert "/dev/ttyACM0 2341:805a serial AAA" in msg and "/dev/ttyACM1" in msg
    assert "ttyUSB0" not in msg  # only the candidates
    m = find_board(NANO33, serial_number="bbb", list_ports=listing)  # USB serials: any case
    assert m.port.device == "/dev/ttyACM1"


def test_no_board_attached_names_the_board_what_was_found_and_the_twin():
    with pytest.raises(LinkError) as err:
        find_board(NANO33, list_ports=ports(UART, FTDI, RP2040))
    msg = str(err.value)
    assert "Arduino Nano 33 BLE / BLE Sense (nano33: USB 2341:805a, bootloader 2341:005a)" in msg
    assert "/dev/ttyUSB0 0403:6001 serial A9K3L2 (FT232R USB UART)" in msg
    assert "/dev/ttyS0 no USB id" in msg
    assert "--board=sim:nano33" in msg
    with pytest.raises(LinkError, match="no serial ports at all"):
        find_board(NANO33, list_ports=ports())


def test_unknown_serial_number_lists_the_boards_of_that_kind():
    with pytest.raises(LinkError) as err:
        find_board(NANO33, serial_number="ZZZ", list_ports=ports(nano("/dev/ttyACM0", "AAA"), FTDI))
    assert "serial number ZZZ" in str(err.value) and "serial AAA" in str(err.value)


def test_a_board_waiting_in_its_bootloader_is_found_as_such():
    m = find_board(NANO33, list_ports=ports(nano("/dev/ttyACM3", "AAA", bootloader=True)))
    assert m.role == "bootloader"


def test_wrong_board_on_the_given_port():
    with pytest.raises(ConfigError) as err:
        find_board(NANO33, port="/dev/ttyACM7", list_ports=ports(RP2040), catalog=CATALOG)
    msg = str(err.value)
    assert "wrong board on /dev/ttyACM7" in msg
    assert "nanorp2040 (Arduino Nano RP2040 Connect)" in msg and "not Arduino Nano 33" in msg


def test_given_port_checks_and_trust():
    m = find_board(NANO33, port="/dev/ttyACM0", list_ports=ports(nano("/dev/ttyACM0", "AAA")))
    assert m.port.serial_number == "AAA"
    remote = find_board(NANO33, port="rfc2217://10.0.0.5:4000", list_ports=ports())
    assert remote.port.device == "rfc2217://10.0.0.5:4000" and remote.port.usb_id == ""
    with pytest.raises(LinkError, match=r"/dev/ttyACM9 does not exist.*attached now: /dev/ttyS0"):
        find_board(NANO33, port="/dev/ttyACM9", list_ports=ports(UART))


def test_boards_sharing_usb_ids_all_match():
    found = matches_for_port(attached_ports(ports(nano("/dev/ttyACM0", "A")))[0], CATALOG)
    assert {m.board.id for m in found} == {"nano33", "nano33rev2"}
    m = find_board(CATALOG["nano33rev2"], list_ports=ports(nano("/dev/ttyACM0", "A")))
    assert m.board.id == "nano33rev2"


class Enumeration:
    """A port list that changes as a board re-enumerates, on a fake clock."""

    def __init__(self, steps: list[list[FakePort]]):
        self.steps = steps
        self.calls = 0
        self.now = 0.0

    def list_ports(self) -> list[FakePort]:
        step = self.steps[min(self.calls, len(self.steps) - 1)]
        self.calls += 1
        return step

    def sleep(self, s: float) -> None:
        self.now += s

    def clock(self) -> float:
        return self.now


def test_reenumeration_is_followed_by_serial_number_not_by_newest_port():
    other = nano("/dev/ttyACM5", "OTHER", bootloader=True)  # a newer port of another board
    enum = Enumeration(
        [
            [nano("/dev/ttyACM0", "MINE")],
            [],  # the board dropped off the bus
            [other],
            [other, nano("/dev/ttyACM1", "MINE", bootloader=True)],
        ]
    )
    m, _ = wait_for_board(
        NANO33,
        "MINE",
        "bootloader",
        10,
        list_ports=enum.list_ports,
        sleep=enum.sleep,
        clock=enum.clock,
    )
    assert m is not None and (m.port.device, m.role) == ("/dev/ttyACM1", "bootloader")
    assert enum.calls == 4


def test_reenumeration_wait_is_bounded_and_reports_what_it_saw():
    enum = Enumeration([[nano("/dev/ttyACM5", "OTHER", bootloader=True)]])
    m, seen = wait_for_board(
        NANO33,
        "MINE",
        "bootloader",
        3.0,
        list_ports=enum.list_ports,
        sleep=enum.sleep,
        clock=enum.clock,
    )
    assert m is None
    assert [p.serial_number for p in seen] == ["OTHER"]
    assert enum.now == 3.0 and enum.calls == 13  # polled at 0, 0.25 ... 3.0 s, then gave up


# The Nano 33 BLE's two serial strings, in their real formats: the application (the core's
# USB CDC) reports the nRF52840's device address (FICR DEVICEADDR[1], [0]) as 16 hex digits;
# the bootloader the same two words after two zero words ("%08X%08X%08X%08X").
APP_SERIAL = "A1B2C3D4E5F60718"
BOOTLOADER_SERIAL = "0000000000000000A1B2C3D4E5F60718"


def test_the_bootloader_is_found_by_the_applications_serial_after_zeros():
    enum = Enumeration(
        [
            [nano("/dev/ttyACM0", APP_SERIAL)],
            [],  # the touch: the application's port is gone
            [nano("/dev/ttyACM5", "00000000000000001111222233334444", bootloader=True)],
            [
                nano("/dev/ttyACM5", "00000000000000001111222233334444", bootloader=True),
                nano("/dev/ttyACM1", BOOTLOADER_SERIAL, bootloader=True),
            ],
        ]
    )
    m, _ = wait_for_board(
        NANO33, APP_SERIAL, "bootloader", 10, list_ports=enum.list_ports, sleep=enum.sleep,
        clock=enum.clock, before=[nano("/dev/ttyACM0", APP_SERIAL)],
    )  # fmt: skip
    assert m is not None and m.port.device == "/dev/ttyACM1" and enum.calls == 4
    assert m.port.serial_number == BOOTLOADER_SERIAL


def test_only_leading_zeros_make_two_serials_one_board():
    port = attached_ports(ports(nano("/dev/ttyACM1", BOOTLOADER_SERIAL, bootloader=True)))[0]
    assert port.is_board(APP_SERIAL) and port.is_board(BOOTLOADER_SERIAL.lower())
    assert not port.is_board("E5F60718")  # a shorter tail leaves non-zero digits in front
    assert not port.is_board("")
    other = attached_ports(ports(nano("/dev/ttyACM1", "1" + BOOTLOADER_SERIAL[1:], True)))[0]
    assert not other.is_board(APP_SERIAL)


def test_a_bootloader_with_another_serial_is_the_only_new_port_at_the_deadline():
    other = nano("/dev/ttyACM3", "0000000000000000FFFF000011112222", bootloader=True)
    fresh = nano("/dev/ttyACM1", "SOMETHING-ELSE", bootloader=True)
    enum = Enumeration([[other], [other, fresh]])
    m, _ = wait_for_board(
        NANO33, APP_SERIAL, "bootloader", 2.0, list_ports=enum.list_ports, sleep=enum.sleep,
        clock=enum.clock, before=[other, nano("/dev/ttyACM0", APP_SERIAL)],
    )  # fmt: skip
    assert m is not None and m.port.device == "/dev/ttyACM1"
    assert enum.now == 2.0  # taken only once no port with our serial came
    two = Enumeration([[other, fresh, nano("/dev/ttyACM2", "X", bootloader=True)]])
    m, _ = wait_for_board(
        NANO33, APP_SERIAL, "bootloader", 1.0, list_ports=two.list_ports, sleep=two.sleep,
        clock=two.clock, before=[other],
    )  # fmt: skip
    assert m is None  # two new bootloaders: which one is ours is unknown


def test_a_board_without_serial_number_is_found_again_as_the_one_new_port():
    old = nano("/dev/ttyACM0", None)
    before = attached_ports(ports(old))
    enum = Enumeration([[], [nano("/dev/ttyACM0", None, bootloader=True)], [old]])
    m = wait_for_new_port(NANO33, before, "app", 10, list_ports=enum.list_ports,
                          sleep=enum.sleep, clock=enum.clock)  # fmt: skip
    assert m is None  # the board came back on its old name: nothing new in 10 s
    assert enum.now == 10.0
    fresh = nano("/dev/ttyACM1", None, bootloader=True)
    enum = Enumeration([[old], [old, fresh]])
    m = wait_for_new_port(NANO33, before, "bootloader", 10, list_ports=enum.list_ports,
                          sleep=enum.sleep, clock=enum.clock)  # fmt: skip
    assert m is not None and (m.port.device, m.role) == ("/dev/ttyACM1", "bootloader")
    two = Enumeration([[fresh, nano("/dev/ttyACM2", None, bootloader=True)]])
    assert wait_for_new_port(NANO33, before, "bootloader", 1, list_ports=two.list_ports,
                             sleep=two.sleep, clock=two.clock) is None  # fmt: skip


def test_boards_command_marks_matches(capsys):
    listing = ports(nano("/dev/ttyACM0", "AAA"), FTDI, nano("/dev/ttyACM1", "BBB", True))
    text = render(CATALOG, attached_ports(listing))
    for board in CATALOG.values():
        assert board.id in text and board.platformio.env in text
    lines = {ln.split()[0]: ln for ln in text.splitlines()[-3:]}
    assert lines["/dev/ttyACM0"].endswith("nano33, nano33rev2 (app)")
    assert lines["/dev/ttyACM1"].endswith("nano33, nano33rev2 (bootloader)")
    assert lines["/dev/ttyUSB0"].endswith("-")
    data = as_json(CATALOG, attached_ports(listing))
    assert data["attached"][0]["matches"] == [
        {"board": "nano33", "role": "app"},
        {"board": "nano33rev2", "role": "app"},
    ]
    assert boards_main(["--json"], list_ports=listing) == 0
    assert '"port": "/dev/ttyUSB0"' in capsys.readouterr().out
