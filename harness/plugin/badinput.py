"""Bad input ends the run in one line (pytest's usage error, exit 4), its traceback in the log
file (``<--hil-log-dir>/tflm-hil.log``), and leaves nothing in the results store: it says
nothing of the model."""

from __future__ import annotations

import traceback
from pathlib import Path

import pytest

from ..errors import ConfigError

_refused = pytest.StashKey[str]()
LOG_NAME = "tflm-hil.log"


def log_path(config: pytest.Config) -> Path:
    base = Path(config.option.hil_log_dir or "reports/logs")
    return base if base.is_absolute() else config.invocation_params.dir / base


def log_traceback(config: pytest.Config, exc: BaseException) -> Path:
    """Appends the exception's traceback to the session's log file; returns the file."""
    path = log_path(config) / LOG_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as f:
        f.write("".join(traceback.format_exception(exc)))
    return path


def refuse(config: pytest.Config, exc: ConfigError) -> pytest.UsageError:
    """The usage error to raise for a bad input found before the tests run."""
    log_traceback(config, exc)
    config.stash[_refused] = str(exc)
    return pytest.UsageError(f"tflm-hil: {exc}")


def refuse_in_test(item: pytest.Item, report: pytest.TestReport, exc: ConfigError) -> None:
    """A bad input a fixture met (one the checks before the run could not see): the report
    shows one line, the session stops and ends with exit 4."""
    log_traceback(item.config, exc)
    item.config.stash[_refused] = str(exc)
    report.longrepr = f"tflm-hil: {exc}"
    item.session.shouldstop = f"tflm-hil: bad input: {exc}"


def refused(config: pytest.Config) -> bool:
    """Whether this session ended on bad input."""
    return _refused in config.stash
