"""Helpers for the matrix's child processes (probe, converter step): a report file updated at
every stage, so that a child that dies leaves the stage it died in; and where the C-level
stderr it captured (harness/capture.py) is kept, since TFLM and TensorFlow give their reasons
there, not in the exception."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

from ... import atomic
from ...proc import ProcessRun

# TensorFlow's and absl's start-up chatter: never a reason.
_NOISE = re.compile(
    r"^(I0000|W0000|WARNING: All log messages|To enable the following instructions|"
    r".*cuda|.*oneDNN|.*cpu_feature_guard|.*pkg_resources|\s*import pkg_resources|"
    r"Number of resource variables)"
)


def reason_lines(text: str, limit: int = 8) -> str:
    lines = [ln.rstrip() for ln in text.splitlines() if ln.strip() and not _NOISE.match(ln)]
    return "\n".join(lines[:limit])


class Report:
    """A JSON file rewritten (atomically) at every stage."""

    def __init__(self, path: Path):
        self.path = path
        self.data: dict[str, Any] = {"ok": False, "stage": "start"}

    def update(self, **fields: Any) -> None:
        self.data.update(fields)
        atomic.write_text(self.path, json.dumps(self.data, default=str))

    def stage(self, name: str) -> None:
        self.update(stage=name)


def read_report(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def stderr_path(report: Path) -> Path:
    """Where a child keeps its captured stderr, beside its report."""
    return report.with_suffix(".stderr")


def with_stderr(run: ProcessRun, report: Path) -> ProcessRun:
    """The run's output with the child's captured stderr appended (its reasons live there)."""
    kept = stderr_path(report)
    try:
        text = kept.read_text(encoding="utf-8", errors="replace")[-8000:]
    except OSError:
        return run
    return replace(run, output=f"{run.output}\n{text}")
