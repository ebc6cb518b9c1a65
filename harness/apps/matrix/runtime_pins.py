"""Pins that make an old ``tflite-micro`` build importable, found from how it fails.

The axes file (harness/apps/matrix/axes.toml) lists the pins each listed runtime needs; a
version it does not list starts with none. When the runtime's probe fails to import in a way
one of these known causes explains, the cell makes an environment with that pin added and
probes again, so a version is ``install`` only when no environment can import it. Each cause
is what the builds on PyPI were measured to print on Python 3.11 (the axes file's comment on
``pins``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class PinFix:
    pin: str
    signature: re.Pattern[str]
    why: str


KNOWN_FIXES: tuple[PinFix, ...] = (
    PinFix(
        "numpy<2",
        # NumPy 2's loader on an extension built against 1.x; the second form is what the
        # build prints when it first calls into NumPy's C API
        re.compile(r"compiled using NumPy 1\.x|_ARRAY_API not found|numpy\.core\.multiarray"),
        "built against NumPy 1.x",
    ),
    PinFix(
        "setuptools<81",
        re.compile(r"No module named 'pkg_resources'"),
        "imports pkg_resources, which setuptools 81 removed",
    ),
)


def next_fix(failure: str, applied: Sequence[str]) -> PinFix | None:
    """The known cause of an import ``failure`` whose pin is not applied yet, if any."""
    names = {_name(p) for p in applied}
    for fix in KNOWN_FIXES:
        if fix.signature.search(failure) and _name(fix.pin) not in names:
            return fix
    return None


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~ ;\[]", requirement, maxsplit=1)[0].strip().lower()
