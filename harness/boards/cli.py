"""``tflm-hil boards``: the board catalog, and the attached boards with the entries they match."""

from __future__ import annotations

import argparse
import json

from tabulate import tabulate

from .catalog import QEMU_PREFIX, BoardSpec, load_catalog
from .discovery import AttachedPort, ListPorts, attached_ports, matches_for_port


def _table(rows: list[list[str]]) -> list[str]:
    """The rows (the first is the header) as plain columns, text as it is (no number parsing)."""
    text = tabulate(rows[1:], headers=rows[0], tablefmt="plain", disable_numparse=True)
    return [line.rstrip() for line in text.splitlines()]


def render(catalog: dict[str, BoardSpec], ports: list[AttachedPort]) -> str:
    rows = [["id", "name", "mcu", "usb app", "bootloader", "platformio env", "upload", "emulated"]]
    for b in catalog.values():
        rows.append(
            [
                b.id,
                b.name,
                b.mcu,
                b.usb_app,
                b.usb_bootloader or "-",
                b.platformio.env,
                b.platformio.upload_protocol,
                f"{QEMU_PREFIX}{b.id} ({b.emulation.machine})" if b.emulation else "-",
            ]
        )
    lines = ["catalog (simulated twins: --board=sim:<id>; emulated boards: --board=qemu:<id>):"]
    lines += ["  " + ln for ln in _table(rows)]
    lines.append("")
    if not ports:
        lines.append("attached: no serial ports")
        return "\n".join(lines)
    rows = [["port", "usb id", "serial number", "description", "matches"]]
    for p in ports:
        found = matches_for_port(p, catalog)
        match = ", ".join(m.board.id for m in found) + f" ({found[0].role})" if found else "-"
        rows.append(
            [
                p.device,
                p.usb_id or "-",
                p.serial_number or "-",
                p.product or p.description or "-",
                match,
            ]
        )
    lines.append("attached:")
    lines += ["  " + ln for ln in _table(rows)]
    return "\n".join(lines)


def as_json(catalog: dict[str, BoardSpec], ports: list[AttachedPort]) -> dict:
    return {
        "catalog": [
            {
                "id": b.id,
                "name": b.name,
                "mcu": b.mcu,
                "usb_app": b.usb_app,
                "usb_bootloader": b.usb_bootloader,
                "platformio_env": b.platformio.env,
                "emulation": b.emulation.machine if b.emulation else None,
            }
            for b in catalog.values()
        ],
        "attached": [
            {
                "port": p.device,
                "usb_id": p.usb_id,
                "serial_number": p.serial_number,
                "description": p.product or p.description,
                "matches": [
                    {"board": m.board.id, "role": m.role} for m in matches_for_port(p, catalog)
                ],
            }
            for p in ports
        ],
    }


def main(argv: list[str], list_ports: ListPorts | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tflm-hil boards", description=__doc__)
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args(argv)
    catalog = load_catalog()
    ports = attached_ports(list_ports)
    print(json.dumps(as_json(catalog, ports), indent=2) if args.json else render(catalog, ports))
    return 0
