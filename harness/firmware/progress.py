"""A firmware build's progress as one status line, from the build tool's output (PlatformIO's, or
the emulated board's compiler runs): a line on a change of step, at most every ``every_s``."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

TAIL_LINES = 40  # kept for the failure message


@dataclass
class BuildProgress:
    """Turns PlatformIO's output into a one-line status, emitted on a change of step."""

    label: str
    emit: Callable[[str], None]
    clock: Callable[[], float] = time.monotonic
    every_s: float = 10.0
    compiled: int = 0
    step: str = "starting"
    tail: deque[str] = field(default_factory=lambda: deque(maxlen=TAIL_LINES))
    _started: float = field(default=0.0, init=False)
    _last: float = field(default=0.0, init=False)

    def __post_init__(self) -> None:
        self._started = self._last = self.clock()

    def line(self, text: str) -> None:
        self.tail.append(text)
        step = self.step
        if text.startswith("Compiling "):
            self.compiled += 1
            step = "compiling"
        elif text.startswith(("Linking ", "Building ")):
            step = "linking"
        elif "Installing" in text or "Downloading" in text or "Unpacking" in text:
            step = "installing packages"
        elif text.startswith(("Uploading", "Forcing reset", "Looking for upload port")):
            step = "uploading"
        elif text.startswith("Checking size"):
            step = "checking size"
        now = self.clock()
        if step != self.step or now - self._last >= self.every_s:
            self.step = step
            self._last = now
            files = f", {self.compiled} files compiled" if self.compiled else ""
            self.emit(f"[{self.label}] {step}{files} ({now - self._started:.0f} s)")
