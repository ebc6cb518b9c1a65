"""How much flash and static RAM a board leaves to the application, and the check against it.

The limits are the catalog's ``app_flash_bytes`` / ``app_ram_bytes`` (the chip's totals minus
the bootloader and the core's reserved regions; ``flash_bytes`` / ``ram_bytes`` when absent).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..boards.catalog import BoardSpec
from ..errors import BuildError
from .elfsize import ElfSizes


@dataclass(frozen=True)
class AppLimits:
    flash_bytes: int
    ram_bytes: int


def app_limits(spec: BoardSpec) -> AppLimits:
    return AppLimits(flash_bytes=spec.app_flash_bytes, ram_bytes=spec.app_ram_bytes)


def _kib(n: int) -> str:
    return f"{n / 1024:.1f} KiB"


def check_fits(spec: BoardSpec, sizes: ElfSizes, limits: AppLimits, arena: int) -> None:
    """Refuses an image that does not fit, with the figures and what to change."""
    if sizes.flash > limits.flash_bytes:
        raise BuildError(
            f"the firmware does not fit {spec.name}'s flash: {_kib(sizes.flash)} > "
            f"{_kib(limits.flash_bytes)} available ({sizes.breakdown()}); shrink the model "
            "(quantize, prune, fewer filters) or pick a board with more flash"
        )
    if sizes.ram > limits.ram_bytes:
        raise BuildError(
            f"the firmware does not fit {spec.name}'s RAM: {_kib(sizes.ram)} static > "
            f"{_kib(limits.ram_bytes)} available, of which the tensor arena is {_kib(arena)} "
            f"({sizes.breakdown()}); reduce the activations or --arena, or pick a board "
            "with more RAM"
        )
