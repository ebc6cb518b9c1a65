"""Cells side by side on one host, with N-of-M progress.

Each cell already runs in processes of its own (probe, suite, twin or QEMU), so threads only
wait on them. How many at once: the host's CPUs for simulated and emulated cells; for real
boards the number of boards of the kind attached (each cell's suite locks the board it uses,
so more would only queue).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from .result import CellResult

Cell = Callable[[], CellResult]


def default_jobs(cells: int, boards: int | None = None) -> int:
    """CPUs (or the boards there are), never more than the cells."""
    limit = boards if boards is not None else (os.cpu_count() or 1)
    return max(1, min(cells, limit))


def run_cells(
    cells: Sequence[Cell],
    jobs: int,
    report: Callable[[str], None] = print,
    clock: Callable[[], float] = time.monotonic,
) -> list[CellResult]:
    """Runs ``cells`` ``jobs`` at a time; after each, one line ``[n/M] <its line>``. Results
    come back in the cells' order, whatever order they finished in."""
    total = len(cells)
    done = 0
    lock = threading.Lock()
    start = clock()

    def one(cell: Cell) -> CellResult:
        nonlocal done
        result = cell()
        with lock:
            done += 1
            report(f"[{done}/{total}] {summary_line(result)} ({clock() - start:.0f} s)")
        return result

    if jobs <= 1 or total <= 1:
        return [one(c) for c in cells]
    with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="cell") as pool:
        return list(pool.map(one, cells))


def summary_line(r: CellResult) -> str:
    first = r.error.strip().splitlines()[0][:140] if r.error.strip() else ""
    figures = ", ".join(f"{k} {v:g}" for k, v in r.key_figures().items())
    pins = r.details.get("pins") or []
    return (
        f"{r.cell_id}: {r.status.upper()}"
        + (f" [{r.gate}]" if r.gate else "")
        + (f" {figures}" if figures else "")
        + (f" (pins: {' '.join(pins)})" if pins else "")
        + (f" — {first}" if first else "")
    )
