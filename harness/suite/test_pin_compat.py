"""The pin gate: a simulated twin computes with the newest TFLM host runtime, not with the
board's pinned TFLM library, so it fails a model that uses a feature that library is known to
compute differently or to reject (harness/data/tflm_known_issues.toml). A board that runs the
pinned library itself (real, emulated) needs no such gate: its own outputs are judged."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.hil


def test_pin_compat(board, pin_compat):
    if board.pinned_library:
        pytest.skip(
            f"{board.spec.id} computes with its pinned TFLM library itself: the bit-exactness "
            "tests and the gates judge its outputs"
        )
    if pin_compat:
        pytest.fail(
            "\n".join(f"pin_compat gate FAILS: {f.message()}" for f in pin_compat), pytrace=False
        )
