"""Draw the figures of docs/ranking_labels.md from the code that makes the labels.

python docs/make_label_plots.py            # writes docs/ranking_labels_*.png
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ecomrel.rank.engagement import smoothed_rate  # noqa: E402
from ecomrel.rank.labels import blend_grades, transform_content  # noqa: E402
from ecomrel.rank.rank_config import BlendConfig, ContentTransform  # noqa: E402

HERE = Path(__file__).resolve().parent
S = np.linspace(0, 1, 401)
GRADES = np.arange(4) / 3  # the four grades on the normalised scale


def _grade_marks(ax) -> None:
    for g, name in zip(GRADES, ["irrelevant", "complement", "substitute", "exact"], strict=True):
        ax.axvline(g, c="0.85", lw=0.8, zorder=0)
        ax.text(g, 1.03, name, ha="center", fontsize=7, color="0.4", transform=ax.get_xaxis_transform())


def transforms() -> Path:
    fig, ax = plt.subplots(figsize=(7, 4.2))
    family = [
        (ContentTransform(kind="identity"), "identity: c = s", "k", "-"),
        (ContentTransform(kind="sigmoid", alpha=10, beta=0.6), "sigmoid α=10, β=0.6", "tab:blue", "-"),
        (ContentTransform(kind="sigmoid", alpha=5, beta=0.6), "sigmoid α=5, β=0.6", "tab:cyan", "-"),
        (
            ContentTransform(kind="sigmoid_rescaled", alpha=5, beta=0.6),
            "sigmoid_rescaled α=5, β=0.6",
            "tab:green",
            "--",
        ),
        (ContentTransform(kind="step", beta=0.6), "step β=0.6", "tab:red", ":"),
    ]
    for cfg, label, color, ls in family:
        ax.plot(S, transform_content(S, cfg), c=color, ls=ls, label=label)
        ax.scatter(GRADES, transform_content(GRADES, cfg), c=color, s=18, zorder=3)
    _grade_marks(ax)
    ax.set_xlabel("s = expected grade / 3 (judge content relevance)")
    ax.set_ylabel("content label c")
    ax.legend(fontsize=8, loc="upper left")
    ax.grid(alpha=0.2)
    fig.tight_layout()
    return _save(fig, "transforms")


def sigmoid_grid() -> Path:
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.5), sharey=True)
    for ax, beta in zip(axes, [0.5, 0.6, 0.75], strict=True):
        ax.plot(S, S, c="0.6", ls="--", label="identity")
        for alpha, color in [(5, "tab:cyan"), (10, "tab:blue"), (20, "navy")]:
            ax.plot(
                S,
                transform_content(S, ContentTransform(kind="sigmoid", alpha=alpha, beta=beta)),
                c=color,
                label=f"α={alpha}",
            )
        _grade_marks(ax)
        ax.set_title(f"β = {beta}", pad=14)
        ax.set_xlabel("s")
        ax.grid(alpha=0.2)
    axes[0].set_ylabel("σ(α(s − β))")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    return _save(fig, "sigmoid_grid")


def engagement_smoothing() -> Path:
    imps = np.arange(0, 201)
    prior = 0.05
    fig, ax = plt.subplots(figsize=(7, 4))
    for m, color in [(0, "tab:red"), (5, "tab:orange"), (20, "tab:blue"), (100, "navy")]:
        ax.plot(imps[1:], smoothed_rate(imps[1:] * 0.2, imps[1:], prior, m), c=color, label=f"m = {m}")
        ax.plot(imps, smoothed_rate(np.minimum(imps, 1), imps, prior, m), c=color, ls=":")
    ax.axhline(prior, c="0.5", lw=0.8, ls="--")
    ax.text(200, prior, "prior 5%", ha="right", va="bottom", fontsize=8, color="0.4")
    ax.set_xscale("symlog", linthresh=1)
    ax.set_xlabel("impressions")
    ax.set_ylabel("smoothed rate")
    ax.set_title(
        "Bayesian average (events + m·prior) / (impressions + m)\n"
        "solid: a true 20% product; dotted: one click then nothing",
        fontsize=9,
    )
    ax.set_ylim(0, 1.02)
    ax.set_xlim(0, 200)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.2)
    fig.tight_layout()
    return _save(fig, "engagement")


def blends() -> Path:
    c, e = np.meshgrid(np.linspace(0, 1, 201), np.linspace(0, 1, 201))
    rules = [
        BlendConfig(rule="content_gated", content_bands=3, engagement_levels=4),
        BlendConfig(rule="weighted_sum", weight=0.5),
        BlendConfig(rule="multiplicative"),
        BlendConfig(rule="content_only"),
        BlendConfig(rule="engagement_only"),
    ]
    fig, axes = plt.subplots(1, len(rules), figsize=(16, 3.4))
    for ax, cfg in zip(axes, rules, strict=True):
        g = blend_grades(c.ravel(), e.ravel(), cfg).reshape(c.shape)
        im = ax.imshow(
            g,
            origin="lower",
            extent=(0, 1, 0, 1),
            cmap="viridis",
            aspect="auto",
            vmin=0,
            vmax=cfg.n_grades() - 1,
        )
        ax.set_title(cfg.name(), fontsize=9)
        ax.set_xlabel("content label c")
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="integer grade")
    axes[0].set_ylabel("engagement label e")
    fig.tight_layout()
    return _save(fig, "blends")


def _save(fig, name: str) -> Path:
    path = HERE / f"ranking_labels_{name}.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


if __name__ == "__main__":
    for p in (transforms(), sigmoid_grid(), engagement_smoothing(), blends()):
        print(p)
