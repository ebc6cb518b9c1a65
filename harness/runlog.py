"""One run, one set of logs: the run id in every log's name, stale reports marked.

Two runs at the same time (two terminals, a tox matrix) used to append to the same
``reports/logs/link-nano33.log`` with nothing between them; each run now names its logs with
its own id. A run killed before it wrote its report left the previous run's report looking
current; each run now marks the report it will replace as stale first, and the report it
writes at the end replaces the mark.
"""

from __future__ import annotations

import html
import os
import re
import time
from pathlib import Path

from .atomic import write_text

STALE_MARK = "tflm-hil-stale"


def run_id() -> str:
    """This process's run id: $TFLM_HIL_RUN_ID (shared by the processes of one run), else the
    start time and the process id, set once."""
    rid = os.environ.get("TFLM_HIL_RUN_ID")
    if not rid:
        rid = f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
        os.environ["TFLM_HIL_RUN_ID"] = rid  # the processes this one starts share it
    return rid


def log_path(log_dir: Path, name: str) -> Path:
    """``<log_dir>/<name>-<run id>.log``; the folder is made."""
    log_dir.mkdir(parents=True, exist_ok=True)
    return log_dir / f"{name}-{run_id()}.log"


def mark_stale(report: Path) -> bool:
    """Puts a banner at the top of an existing HTML report: a newer run started and has not
    finished. Returns whether there was a report to mark."""
    try:
        text = report.read_text(encoding="utf-8")
    except (FileNotFoundError, UnicodeDecodeError):
        return False
    if STALE_MARK in text:
        return True
    banner = (
        f'<div id="{STALE_MARK}" style="background:#fdd;border:2px solid #c00;padding:8px">'
        f"<b>Stale report</b>: run {html.escape(run_id())} started at "
        f"{time.strftime('%Y-%m-%d %H:%M:%S')} and has not finished writing its own; what follows "
        "is from an earlier run. If that run died, its results are partial: see its logs.</div>"
    )
    marked, n = re.subn(r"(<body[^>]*>)", lambda m: m.group(1) + banner, text, count=1)
    write_text(report, marked if n else banner + text)
    return True


def keep_traceback(log_dir: Path, nodeid: str, text: str) -> Path:
    """Appends a failure's whole traceback to this run's session log; returns the log."""
    path = log_path(log_dir, "session")
    with path.open("a", encoding="utf-8") as f:
        f.write(f"==== {time.strftime('%H:%M:%S')} {nodeid}\n{text}\n")
    return path
