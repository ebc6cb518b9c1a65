"""What the session learned, kept for the report: device figures, reference cache use, and the
validation and latency results the summary plots are drawn from."""

from __future__ import annotations

from typing import Any

import pytest

_device = pytest.StashKey[dict[str, str]]()
_references = pytest.StashKey[dict[str, str]]()
_results = pytest.StashKey[dict[str, Any]]()


def device_summary(config: pytest.Config) -> dict[str, str]:
    return config.stash.setdefault(_device, {})


def reference_notes(config: pytest.Config) -> dict[str, str]:
    return config.stash.setdefault(_references, {})


def session_results(config: pytest.Config) -> dict[str, Any]:
    """``validation`` (an OutputComparisons) and ``latency`` (a Latency), once computed."""
    return config.stash.setdefault(_results, {})
