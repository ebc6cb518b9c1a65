"""What every pipeline step returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class StepResult:
    skipped: bool  # the outputs were up to date: nothing was done
    outputs: list[Path]
    summary: str
    info: dict = field(default_factory=dict)
