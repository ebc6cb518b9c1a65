"""Plots as PNG bytes (matplotlib, headless backend)."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")  # no display on CI runners

import matplotlib.pyplot as plt
import numpy as np


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


def confusion(matrix: np.ndarray, title: str, ylabel: str) -> bytes:
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
    ax.set_xlabel("device class")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    return _png(fig)
