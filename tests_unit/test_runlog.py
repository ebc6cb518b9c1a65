"""One log per run, stale reports marked, an infrastructure failure in one line."""

from __future__ import annotations

import os
import subprocess
import sys

from harness import runlog

from .planted import FLASH_MESSAGE, failing_flash
from .test_hil_suite import run_suite


def test_each_run_names_its_logs_with_its_own_id(tmp_path):
    code = (
        "from pathlib import Path; from harness import runlog; "
        "print(runlog.log_path(Path('.'), 'link-nano33'))"
    )
    env = {k: v for k, v in os.environ.items() if k != "TFLM_HIL_RUN_ID"}
    names = {
        subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True,
                       text=True, check=True).stdout.strip()
        for _ in range(2)
    }
    assert len(names) == 2  # two runs at once: two transcripts
    assert all(n.startswith("link-nano33-") and n.endswith(".log") for n in names)


def test_a_report_is_marked_stale_until_its_run_replaces_it(tmp_path):
    report = tmp_path / "r.html"
    assert not runlog.mark_stale(report)  # nothing to mark
    report.write_text("<html><body class='x'><h1>old results</h1></body></html>")
    assert runlog.mark_stale(report)
    text = report.read_text()
    assert text.index(runlog.STALE_MARK) < text.index("old results")
    assert f"run {runlog.run_id()} started" in text
    runlog.mark_stale(report)
    assert report.read_text().count(runlog.STALE_MARK) == 1


def test_an_infrastructure_failure_is_its_message_and_the_log_and_the_stale_mark_goes(tmp_path):
    args, env = failing_flash(tmp_path)  # an upload that fails: infrastructure, not the model
    report = tmp_path / "report.html"
    report.write_text("<html><body><p>an earlier run</p></body></html>")
    run = run_suite(tmp_path, *args, f"--html={report}", env=env)
    assert run.returncode == 6, run.stdout[-3000:]
    lines = run.stdout.splitlines()
    at = next(i for i, ln in enumerate(lines) if ln.startswith(f"E   [flash] {FLASH_MESSAGE}"))
    assert lines[at + 1].startswith("(traceback: ")  # the message, then where the rest went
    log = lines[at + 1].split("(traceback: ")[1].rstrip(")")
    assert os.path.basename(log).startswith("session-") and os.path.isfile(log)
    with open(log) as f:
        assert "FlashError" in f.read()  # the whole traceback went to the log
    assert "Traceback" not in run.stdout and "raise FlashError" not in run.stdout
    html = report.read_text()
    assert runlog.STALE_MARK not in html and "an earlier run" not in html  # replaced whole
