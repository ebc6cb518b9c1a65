"""Plots as PNG bytes (matplotlib, headless backend)."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")  # no display on CI runners

import matplotlib.pyplot as plt
import numpy as np
from matplotlib import ticker


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def latency_histogram(us: np.ndarray, title: str, provenance: str) -> bytes:
    fig, ax = plt.subplots(figsize=(5, 3))
    ax.hist(us, bins=min(30, max(5, len(np.unique(us)))), color="#4472c4")
    for q, style in ((50, "-"), (95, "--")):
        ax.axvline(float(np.percentile(us, q)), color="#c00000", linestyle=style, label=f"p{q}")
    ax.set_xlabel(f"latency (µs, {provenance})")
    ax.set_ylabel("runs")
    ax.set_title(title)
    ax.legend()
    return _png(fig)


def error_histogram(steps: np.ndarray, title: str) -> bytes:
    fig, ax = plt.subplots(figsize=(5, 3))
    finite = steps[np.isfinite(steps)]
    ax.hist(finite, bins=41, color="#70ad47")
    ax.set_xlabel("device - reference (output quantisation steps)")
    ax.set_ylabel("output values")
    ax.set_yscale("log")
    ax.set_title(title)
    return _png(fig)


def confusion_figure(matrix: np.ndarray, title: str, ylabel: str):
    """The confusion matrix as a figure: one tick per class, labelled with its index (an
    image's default ticks fall between the classes, at -0.5, 0.5 and so on)."""
    fig, ax = plt.subplots(figsize=(4.2, 3.8))
    ax.imshow(matrix, cmap="Blues")
    n = matrix.shape[0]
    if n <= 12:
        for i in range(n):
            for j in range(n):
                if matrix[i, j]:
                    dark = matrix[i, j] > matrix.max() / 2
                    ax.text(
                        j,
                        i,
                        str(matrix[i, j]),
                        ha="center",
                        va="center",
                        fontsize=7,
                        color="white" if dark else "black",
                    )
    # every class up to 20, beyond that integer ticks that do not crowd
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_major_locator(
            ticker.FixedLocator(range(n)) if n <= 20 else ticker.MaxNLocator(integer=True)
        )
    ax.set_xlabel("device class")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    return fig


def confusion(matrix: np.ndarray, title: str, ylabel: str) -> bytes:
    return _png(confusion_figure(matrix, title, ylabel))
