"""Per-operator instruction counts of one invoke on the emulated board (QEMU, the pinned
library), kept in the user cache per image hash: the same image always counts the same
(docs/emulated.md), so a count is measured once."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..atomic import read_json, write_json
from ..boards.catalog import load_catalog
from ..dut import open_dut
from ..emu.driver import QemuDriver
from ..paths import cache_dir
from ..tflite.model import TfliteModel


@dataclass(frozen=True)
class EmulatedCounts:
    total: int  # instructions around Invoke()
    ops: tuple[tuple[str, int], ...]  # per operator, in execution order
    clock_hz: int  # the board's nominal clock the counts are reported at

    @property
    def invoke_only(self) -> int:
        """Invoke()'s own instructions, outside every operator."""
        return self.total - sum(c for _, c in self.ops)


def _cache(image_hash: str) -> Path:
    return cache_dir() / "emu" / "counts" / f"{image_hash}.json"


def emulated_counts(model: TfliteModel, board: str = "nano33") -> EmulatedCounts:
    """Builds (or reuses) the model's image, runs one invoke on an all-zero input."""
    driver = QemuDriver(load_catalog()[board], progress=lambda line: None)
    try:
        image = driver.build(model)
        cached = _cache(image.image_hash)
        if cached.is_file():
            d = read_json(cached)
            return EmulatedCounts(d["total"], tuple(map(tuple, d["ops"])), d["clock_hz"])
        dut = open_dut(driver, model)
        try:
            payload = bytes(sum(t.nbytes for t in dut.info.inputs))
            total = int(dut.benchmark(payload, runs=1, warmup=0).cycles[0])
            ops = tuple((op.name, int(op.cycles)) for op in dut.op_profile())
            clock = int(dut.info.clock_hz)
        finally:
            dut.close()
    finally:
        driver.close()
    cached.parent.mkdir(parents=True, exist_ok=True)
    record = {"total": total, "ops": ops, "clock_hz": clock, "model": model.sha256}
    write_json(cached, record)
    return EmulatedCounts(total, ops, clock)
