"""The report's plots: what a reader sees on their axes."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest

from harness.report import plots


@pytest.mark.parametrize("n", [3, 10, 40])
def test_confusion_ticks_are_the_classes(n):
    """A class is a whole number: no tick between two classes (the 3-class model's -0.5, 0.5)."""
    rng = np.random.default_rng(n)
    fig = plots.confusion_figure(rng.integers(0, 9, (n, n)), "t", "true class")
    try:
        (ax,) = fig.axes
        lo, hi = -0.5, n - 0.5  # the image's extent
        for ticks in (ax.get_xticks(), ax.get_yticks()):
            shown = [t for t in ticks if lo <= t <= hi]
            assert shown and all(float(t).is_integer() for t in shown), ticks
            if n <= 20:
                assert shown == list(range(n))
    finally:
        plt.close(fig)


def test_confusion_png_is_an_image():
    png = plots.confusion(np.eye(3, dtype=int), "t", "true class")
    assert png.startswith(b"\x89PNG")
