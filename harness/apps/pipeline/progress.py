"""A one-line progress display for long steps (epochs, windows received).

On a terminal the line is redrawn in place; in a log (not a tty) one line is printed per
tenth of the work, so CI logs stay short.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    def __init__(self, label: str, total: int, *, stream: TextIO | None = None):
        self.label = label
        self.total = max(total, 1)
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.start = time.monotonic()
        self._last_tenth = -1

    def update(self, done: int, note: str = "") -> None:
        pct = min(100, 100 * done // self.total)
        text = f"{self.label}: {done}/{self.total} ({pct}%)" + (f" {note}" if note else "")
        if self.tty:
            self.stream.write("\r" + text + "\x1b[K")
            self.stream.flush()
        elif pct // 10 != self._last_tenth:
            self._last_tenth = pct // 10
            self.stream.write(text + "\n")
            self.stream.flush()

    def close(self, note: str = "") -> None:
        took = time.monotonic() - self.start
        if self.tty:
            self.stream.write("\n")
        self.stream.write(
            f"{self.label}: done in {took:.1f}s" + (f" {note}" if note else "") + "\n"
        )
        self.stream.flush()
