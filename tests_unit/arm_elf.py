"""Builds small Cortex-M ELF files with Debian's arm-none-eabi-gcc, laid out like a firmware."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

ARM_GCC = "arm-none-eabi-gcc"

# Flash and RAM where the Nano 33 BLE's application lives; a heap and a stack reservation
# after .bss, as the mbed cores' linker scripts have.
LINKER_SCRIPT = """
MEMORY {{
  FLASH (rx) : ORIGIN = 0x10000, LENGTH = 0xf0000
  RAM (rwx) : ORIGIN = 0x20000000, LENGTH = {ram_length:#x}
}}
ENTRY(Reset_Handler)
SECTIONS {{
  .text : {{ KEEP(*(.isr_vector)) *(.text*) }} > FLASH
  .rodata : {{ *(.rodata*) }} > FLASH
  .data : {{ *(.data*) }} > RAM AT > FLASH
  .noinit (NOLOAD) : {{ KEEP(*(.noinit)) }} > RAM
  .bss : {{ *(.bss*) *(COMMON) }} > RAM
  .heap (NOLOAD) : {{ . = ALIGN(8); . = . + 0x8000; }} > RAM
  .stack_dummy (COPY) : {{ . = . + 0x400; }} > RAM
}}
"""

SOURCE = """
const unsigned char model[{model}] = {{1, 2, 3}};
int counter = 5;
volatile char arena[{arena}];
__attribute__((section(".noinit"))) unsigned boot_count;
void Reset_Handler(void) {{ arena[counter] = (char)model[counter]; boot_count++; for (;;) {{ }} }}
__attribute__((section(".isr_vector"), used)) const void *vectors[2] = {{
    (void *)0x20010000, Reset_Handler}};
"""


def require_arm_gcc() -> str:
    found = shutil.which(ARM_GCC)
    assert found, f"{ARM_GCC} is required (Debian: gcc-arm-none-eabi libnewlib-arm-none-eabi)"
    return found


def build_elf(
    out_dir: Path, *, model: int = 1000, arena: int = 3000, ram_length: int = 0x40000
) -> Path:
    """An ELF with ``model`` bytes of constants and an ``arena``-byte zeroed array."""
    gcc = require_arm_gcc()
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "link.ld").write_text(LINKER_SCRIPT.format(ram_length=ram_length))
    (out_dir / "fw.c").write_text(SOURCE.format(model=model, arena=arena))
    elf = out_dir / "firmware.elf"
    subprocess.run(
        [
            gcc,
            "-mcpu=cortex-m4",
            "-mthumb",
            "-O1",
            "-nostdlib",
            "-nostartfiles",
            "-T",
            str(out_dir / "link.ld"),
            "-o",
            str(elf),
            str(out_dir / "fw.c"),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return elf


def size_table(elf: Path) -> dict[str, int]:
    """Section sizes as binutils' `size -A` reports them: an independent reading."""
    out = subprocess.run(
        ["arm-none-eabi-size", "-A", str(elf)], check=True, capture_output=True, text=True
    ).stdout
    sizes = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0].startswith("."):
            sizes[parts[0]] = int(parts[1])
    return sizes
