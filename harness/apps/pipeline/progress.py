"""A progress bar for long steps (epochs, windows received, matrix cells), drawn by rich.

On a terminal the bar is redrawn in place; in a log (not a terminal) rich draws nothing while
the work goes on and the final state once, so CI logs stay short.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
from rich.progress import Progress as RichProgress


class Progress:
    """``label: [bar] done/total note``; ``close`` ends it with the time taken."""

    def __init__(self, label: str, total: int, *, stream: TextIO | None = None):
        self.label = label
        self.console = Console(file=stream or sys.stderr, highlight=False)
        self.start = time.monotonic()
        self._bar = RichProgress(
            TextColumn("{task.description}:", markup=False),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[note]}", markup=False),
            TimeElapsedColumn(),
            console=self.console,
        )
        self._task = self._bar.add_task(label, total=max(total, 1), note="")
        self._bar.start()

    def update(self, done: int, note: str = "") -> None:
        self._bar.update(self._task, completed=done, note=note)

    def close(self, note: str = "") -> None:
        self._bar.stop()
        took = time.monotonic() - self.start
        self.console.print(f"{self.label}: done in {took:.1f}s" + (f" {note}" if note else ""),
                           markup=False)
