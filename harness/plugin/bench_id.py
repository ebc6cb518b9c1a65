"""The id of the latency benchmark: the model (stem and hash), the board and where its figures
come from (measured, emulated, estimated). pytest-benchmark matches saved runs by test name,
so ``--benchmark-compare`` only ever sets a run beside one of the same model on the same kind
of device (the image hash goes into ``extra_info``: it is known once the device answers)."""

from __future__ import annotations

from ..model.cache import file_digest
from .config import HilConfig


def bench_id(hil: HilConfig) -> str:
    """``<model stem>-<sha256[:8]>-<board>-<provenance>``, as a pytest id (no ':')."""
    digest = file_digest(hil.model)[:8]
    return f"{hil.model.stem}-{digest}-{hil.board_name}-{hil.kind.provenance}".replace(":", "_")
