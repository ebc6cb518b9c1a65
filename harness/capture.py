"""The C-level stderr captured: TFLM and TensorFlow give their reasons there, not in Python.

Python's ``contextlib.redirect_stderr`` moves only ``sys.stderr``; native code writes to file
descriptor 2, so that descriptor is redirected to a file.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


@contextmanager
def captured_stderr(keep: Path | None = None) -> Iterator[Callable[[], str]]:
    """Redirects file descriptor 2 to a file; yields a function reading what came so far.

    With ``keep`` the file is that path (appended to), so that what a process printed before
    dying in native code (an LLVM abort, a segfault) survives it for the parent to read."""
    with open(keep, "a+b") if keep else tempfile.TemporaryFile() as tmp:
        start = tmp.seek(0, os.SEEK_END)
        saved = os.dup(2)
        os.dup2(tmp.fileno(), 2)

        def read() -> str:
            tmp.flush()
            tmp.seek(start)
            return tmp.read().decode("utf-8", "replace")

        try:
            yield read
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def call_capturing_stderr(fn: Callable[[], T]) -> tuple[T | None, str, Exception | None]:
    """Runs ``fn`` with the C-level stderr captured: its result (None if it raised), what it
    printed, and the exception it raised (the TFLM runtime raises RuntimeError or ValueError
    for a model it refuses, and says why on stderr)."""
    with captured_stderr() as read:
        result, error = None, None
        try:
            result = fn()
        except Exception as exc:
            error = exc
        return result, read(), error
