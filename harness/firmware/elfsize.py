"""Flash and static RAM of a linked firmware, read from its ELF with pyelftools.

Flash is every allocated section with contents in the file: code, constants (the model),
exception tables, and the load image of initialised data. Static RAM is the sections that
hold the firmware's variables in main RAM: ``.data``, ``.bss`` and the no-init section
(``.noinit`` / ``.uninitialized*``, the name depends on the core's linker script), as
PlatformIO counts them. The heap and stack reservations are not static use; sections of
other RAM regions (DMA buffers, tightly coupled memory) are listed but not counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..errors import BuildError

SHF_WRITE = 0x1
SHF_ALLOC = 0x2
STATIC_RAM_PREFIXES = (".data", ".bss", ".noinit", ".uninitialized")


@dataclass(frozen=True)
class SectionSize:
    name: str
    size: int
    address: int
    flash: bool  # counted towards flash
    ram: bool  # counted towards static RAM


@dataclass(frozen=True)
class ElfSizes:
    flash: int
    ram: int
    sections: tuple[SectionSize, ...] = field(default=())

    def breakdown(self) -> str:
        parts = [f"{s.name} {s.size}" for s in self.sections if s.flash or s.ram]
        return ", ".join(parts)


def _is_static_ram(name: str) -> bool:
    return any(
        name == p or name.startswith(p + ".") or name.startswith(p + "_")
        for p in STATIC_RAM_PREFIXES
    )


def read_elf_sizes(path: Path) -> ElfSizes:
    try:
        from elftools.common.exceptions import ELFError
        from elftools.elf.elffile import ELFFile
    except ImportError as exc:
        raise BuildError(
            "pyelftools is needed to read firmware sizes: pip install pyelftools "
            "(a dependency of tflm-hil: reinstall it)"
        ) from exc
    if not path.is_file():
        raise BuildError(f"the build left no ELF at {path}: see the build log")
    sections = []
    try:
        with path.open("rb") as fh:
            elf = ELFFile(fh)
            for sec in elf.iter_sections():
                flags, size = sec["sh_flags"], sec["sh_size"]
                if not flags & SHF_ALLOC or size == 0:
                    continue
                has_content = sec["sh_type"] != "SHT_NOBITS"
                ram = bool(flags & SHF_WRITE) and _is_static_ram(sec.name)
                sections.append(SectionSize(sec.name, size, sec["sh_addr"], has_content, ram))
    except (ELFError, OSError) as exc:
        raise BuildError(f"cannot read the firmware ELF {path}: {exc}") from exc
    return ElfSizes(
        flash=sum(s.size for s in sections if s.flash),
        ram=sum(s.size for s in sections if s.ram),
        sections=tuple(sections),
    )
