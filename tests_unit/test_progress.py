"""The progress bar (rich) as a log sees it: no redraws, the last state once, the time taken."""

from __future__ import annotations

import io

from harness.apps.pipeline.progress import Progress


def test_a_log_gets_the_final_state_once_and_the_time_taken():
    log = io.StringIO()  # not a terminal
    progress = Progress("epochs", 40, stream=log)
    for done in range(1, 41):
        progress.update(done, f"loss {1 / done:.4f} [val]")
    progress.close("float accuracy 0.9")
    lines = log.getvalue().splitlines()
    assert "\r" not in log.getvalue() and "\x1b" not in log.getvalue()
    assert len(lines) == 2, lines
    assert lines[0].startswith("epochs: ") and " 40/40 loss 0.0250 [val] " in lines[0]
    assert lines[1].startswith("epochs: done in ") and lines[1].endswith("s float accuracy 0.9")
