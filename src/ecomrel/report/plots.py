"""The report's figures (matplotlib, Agg backend, PNG bytes): per-model confusion matrix and
reliability diagram, and the stage timings."""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
import pandas as pd

from ecomrel.eval import ReliabilityBins

DPI = 100


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(fig) -> bytes:
    plt = _pyplot()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    plt.close(fig)
    return buf.getvalue()


def diagnostics_png(confusion: pd.DataFrame, bins: ReliabilityBins | None, title: str) -> bytes:
    """Confusion matrix (rows = human grade, colour = share of the row, text = count) beside the
    reliability diagram (accuracy per confidence bin against the diagonal; bar width = bin)."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(8.6, 3.7), squeeze=False)
    ax = axes[0][0]
    counts = confusion.to_numpy()
    share = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    for i in range(counts.shape[0]):
        for j in range(counts.shape[1]):
            ax.text(
                j,
                i,
                f"{counts[i, j]:,}",
                ha="center",
                va="center",
                fontsize=8,
                color="white" if share[i, j] > 0.6 else "black",
            )
    names = [str(c) for c in confusion.columns]
    ax.set_xticks(range(len(names)), names, rotation=30, ha="right", fontsize=8)
    ax.set_yticks(range(len(names)), [str(i) for i in confusion.index], fontsize=8)
    ax.set_xlabel("predicted grade")
    ax.set_ylabel("human grade")
    ax.set_title("confusion (colour: share of row)", fontsize=9)
    ax = axes[0][1]
    if bins is None:
        ax.text(0.5, 0.5, "no grade probabilities:\nno reliability diagram", ha="center", va="center")
        ax.set_axis_off()
    else:
        width = np.diff(bins.edges)
        left = bins.edges[:-1]
        filled = bins.count > 0
        ax.bar(
            left[filled],
            bins.accuracy[filled],
            width=width[filled],
            align="edge",
            color="#3b7dd8",
            edgecolor="white",
            label="accuracy",
        )
        ax.plot([0, 1], [0, 1], ls="--", c="gray", lw=1, label="perfect calibration")
        ax.plot(
            bins.confidence[filled], bins.accuracy[filled], "o", c="#d8563b", ms=4, label="mean confidence"
        )
        for x, c in zip(left[filled], bins.count[filled], strict=True):
            ax.text(x + width[0] / 2, 0.02, f"{c:,}", ha="center", fontsize=6, rotation=90, color="white")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_xlabel("confidence (top grade probability)")
        ax.set_ylabel("accuracy")
        ax.set_title(f"reliability (ECE {bins.ece:.3f}, n={bins.n:,})", fontsize=9)
        ax.legend(fontsize=7, loc="upper left")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return _png(fig)


def timings_png(names: Sequence[str], seconds: Sequence[float]) -> bytes:
    """Horizontal bars of stage wall time, pipeline order top to bottom."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 0.38 * len(names) + 1.1))
    ax.barh(list(names), list(seconds), color="#3b7dd8")
    top = max(seconds) if seconds else 1.0
    for i, s in enumerate(seconds):
        ax.text(s + top * 0.01, i, f"{s:,.1f} s", va="center", fontsize=8)
    ax.set_xlim(0, top * 1.15 + 1e-9)
    ax.invert_yaxis()
    ax.set_xlabel("seconds")
    ax.set_title("stage wall time", fontsize=10)
    fig.tight_layout()
    return _png(fig)


def grpo_png(steps: pd.DataFrame) -> bytes:
    """GRPO's per-step log: reward mean ± std, KL to the reference, and the dynamic-sampling pool
    (kept share of the prompts, CV of its label distribution before and after class balancing)."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.4))
    x = steps["step"].to_numpy()
    col = steps.get
    reward = col("reward", pd.Series(np.nan, index=steps.index)).to_numpy(dtype=float)
    std = col("reward_std", pd.Series(0.0, index=steps.index)).to_numpy(dtype=float)
    ax = axes[0]
    ax.plot(x, reward, marker="o", ms=3, color="#3b7dd8", label="reward mean")
    ax.fill_between(x, reward - std, reward + std, color="#3b7dd8", alpha=0.2, label="± std")
    ax.set_title("reward per step", fontsize=10)
    ax.legend(fontsize=8)
    ax = axes[1]
    ax.plot(x, col("kl", pd.Series(np.nan, index=steps.index)).to_numpy(dtype=float), marker="o", ms=3)
    ax.set_title("KL to the start model", fontsize=10)
    ax = axes[2]
    for name, style in (("kept_share", "-o"), ("cv_before", "--"), ("cv_after", ":")):
        if name in steps:
            ax.plot(x, steps[name].to_numpy(dtype=float), style, ms=3, label=name.replace("_", " "))
    ax.set_ylim(bottom=0)
    ax.set_title("dynamic-sampling pool", fontsize=10)
    ax.legend(fontsize=8)
    for ax in axes:
        ax.set_xlabel("step")
    fig.tight_layout()
    return _png(fig)
