"""What a 'build' for the twin produces: the figures a real image of this model would have,
estimated (the catalog's firmware footprint, the host runtime's arena, the cost model's
cycles), and refused when it would not fit the board."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from .. import __version__
from ..boards.catalog import BoardSpec
from ..errors import BuildError
from ..tflite.arena import measure_host_arena, plan_arena
from ..tflite.model import TfliteModel
from .build import source_hash
from .costmodel import estimate_cycles


@dataclass(frozen=True)
class TwinImage:
    """What a 'build' for the twin produces: the figures a real image would have."""

    board: BoardSpec
    model: TfliteModel
    arena_size: int
    arena_host_used: int
    flash_used: int
    ram_used: int
    cycles_per_invoke: int
    image_hash: str

    def describe(self) -> dict:
        return {
            "board": self.board.id,
            "model_hash": self.model.sha256,
            "image_hash": self.image_hash,
            "arena_size": self.arena_size,
            "flash_used_estimated": self.flash_used,
            "ram_used_estimated": self.ram_used,
            "cycles_per_invoke_estimated": self.cycles_per_invoke,
        }


def _kib(n: int) -> str:
    return f"{n / 1024:.1f} KiB"


def plan_image(
    board: BoardSpec,
    model: TfliteModel,
    arena_size: int | None,
    core_size: int,
    personality: str = "hil",
) -> TwinImage:
    """Sizes the twin's image and refuses what would not fit the board, with the figures."""
    host_used = measure_host_arena(model)
    if arena_size is None:  # when the runtime rejected the model, the device will say why
        arena_size = plan_arena(host_used) if host_used else board.ram_bytes // 2
    flash = board.footprint_flash_bytes + len(model.data)
    ram = board.footprint_ram_bytes + arena_size + core_size + board.link.window
    if flash > board.app_flash_bytes:
        raise BuildError(
            f"the image does not fit {board.name}'s flash: model {_kib(len(model.data))} + "
            f"firmware {_kib(board.footprint_flash_bytes)} (estimated) = {_kib(flash)} > "
            f"{_kib(board.app_flash_bytes)} available; "
            "shrink the model (quantize, prune, fewer filters) or pick a board with more flash"
        )
    if ram > board.app_ram_bytes:
        raise BuildError(
            f"the image does not fit {board.name}'s RAM: arena {_kib(arena_size)} + firmware "
            f"{_kib(board.footprint_ram_bytes + core_size + board.link.window)} (estimated, "
            f"receive buffer {_kib(board.link.window)} included) = {_kib(ram)} > "
            f"{_kib(board.app_ram_bytes)} available; reduce the activations (smaller input or "
            "layers) or pick a board with more RAM"
        )
    cycles = estimate_cycles(model, board.cpu)["total"]
    ident = hashlib.sha256(
        f"{source_hash(personality)}|{model.sha256}|{board.id}|{arena_size}|{__version__}".encode()
    ).hexdigest()
    return TwinImage(board, model, arena_size, host_used, flash, ram, cycles, ident)
