"""Difficulty of training prompts for GRPO's dynamic sampling, and a class-balanced RL pool (TaoSR1 §3.5).

TaoSR1 samples G answers per prompt from the current policy and keeps a prompt only when
``0 < #correct < γ``: prompts the policy always gets wrong, or (almost) always right, give a
group whose rewards barely differ, so GRPO's group-relative advantage is ~0 and the prompt only
costs compute. The kept pool is then down-sampled so its label distribution is balanced: the
coefficient of variation (CV = std / mean of the per-grade counts) correlates negatively with the
final quality, CV = 0 is best.

Pure data work on frames, like the rest of :mod:`ecomrel.mining`: the trainer generates the G
samples with :func:`ecomrel.llm.samplers.pass_at_n` and passes the sampler frame in.

- :func:`group_counts` — per prompt: samples, correct samples, pass rate (from a sampler frame).
- :func:`difficulty_mask` — the ``0 < #correct < γ`` filter.
- :func:`coefficient_of_variation` — CV of a label distribution.
- :func:`balance_classes` — seeded down-sampling to ``CV ≤ target`` keeping as many prompts as possible.
- :func:`select_pool` — filter + balance in one call, with the statistics the trainer logs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd


def group_counts(samples: pd.DataFrame, gold: Sequence[int], n_prompts: int | None = None) -> pd.DataFrame:
    """Per prompt ``prompt_idx, n, correct, malformed, pass_rate`` from a pass@N sampler frame.

    ``samples`` has one row per generated answer (``prompt_idx``, ``grade``, ``malformed``: the
    columns of :mod:`ecomrel.llm.samplers`); a sample is correct when its leading grade equals
    ``gold[prompt_idx]`` (malformed answers are never correct). Prompts without a sample (when
    ``n_prompts`` says there are more) get ``n = 0``.
    """
    n_prompts = len(gold) if n_prompts is None else n_prompts
    gold_arr = np.asarray(gold, dtype=int)
    n = np.zeros(n_prompts, dtype=int)
    correct = np.zeros(n_prompts, dtype=int)
    malformed = np.zeros(n_prompts, dtype=int)
    if len(samples):
        idx = samples["prompt_idx"].to_numpy(dtype=int)
        grades = pd.to_numeric(samples["grade"], errors="coerce").to_numpy(dtype=float)
        ok = ~np.isnan(grades) & (grades == gold_arr[idx])
        np.add.at(n, idx, 1)
        np.add.at(correct, idx, ok.astype(int))
        if "malformed" in samples.columns:
            np.add.at(malformed, idx, samples["malformed"].to_numpy(dtype=bool).astype(int))
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(n > 0, correct / np.maximum(n, 1), np.nan)
    return pd.DataFrame(
        {
            "prompt_idx": np.arange(n_prompts),
            "n": n,
            "correct": correct,
            "malformed": malformed,
            "pass_rate": rate,
        }
    )


def difficulty_mask(correct: Sequence[int], gamma: int) -> np.ndarray:
    """``True`` where ``0 < correct < gamma`` (TaoSR1's dynamic-sampling constraint).

    With ``gamma = G`` (the group size) a prompt is kept unless all G samples are wrong or all
    are right (DAPO's filter); a smaller γ also drops prompts that are almost always right.
    """
    c = np.asarray(correct, dtype=int)
    return (c > 0) & (c < int(gamma))


def coefficient_of_variation(
    labels: Sequence[int] | np.ndarray, classes: Sequence[int] | None = None
) -> float:
    """CV of a label distribution: population std / mean of the per-class counts.

    ``classes`` lists the classes counted (a listed class with no label counts as 0); by default
    the classes present in ``labels``. 0.0 for a perfectly balanced set, NaN for an empty one.
    """
    counts = class_counts(labels, classes)
    if not counts or sum(counts.values()) == 0:
        return float("nan")
    values = np.asarray(list(counts.values()), dtype=float)
    return float(values.std() / values.mean())


def class_counts(labels: Sequence[int] | np.ndarray, classes: Sequence[int] | None = None) -> dict[int, int]:
    """``{class: count}``; ``classes`` (default: those present) fixes which classes appear."""
    arr = np.asarray(labels, dtype=int)
    present = sorted({int(v) for v in arr})
    keys = present if classes is None else [int(c) for c in classes]
    return {k: int((arr == k).sum()) for k in keys}


def _cv_of(counts: np.ndarray) -> float:
    return float(counts.std() / counts.mean()) if counts.sum() > 0 else float("nan")


def balance_classes(labels: Sequence[int] | np.ndarray, target_cv: float = 0.0, seed: int = 0) -> np.ndarray:
    """Indices (sorted) of a down-sample of ``labels`` whose CV over the present classes is ≤ ``target_cv``.

    Every class is capped at the same count ``c``; the largest ``c`` that reaches the target is
    chosen (the CV only falls as ``c`` falls, and is 0 at the smallest class's count), so as many
    labels as possible are kept. Which members of a capped class stay is a seeded draw. Classes
    absent from ``labels`` cannot be balanced by down-sampling and are not counted.
    """
    arr = np.asarray(labels, dtype=int)
    if target_cv < 0:
        raise ValueError(f"target_cv must be >= 0, got {target_cv}")
    if arr.size == 0:
        return np.arange(0)
    classes, counts = np.unique(arr, return_counts=True)
    cap = int(counts.max())
    while cap > int(counts.min()) and _cv_of(np.minimum(counts, cap).astype(float)) > target_cv + 1e-12:
        cap -= 1  # capping every class at `cap` only evens the counts as `cap` falls
    rng = np.random.default_rng(seed)
    keep: list[np.ndarray] = []
    for cls in classes:
        members = np.flatnonzero(arr == cls)
        if len(members) > cap:
            members = rng.choice(members, size=cap, replace=False)
        keep.append(members)
    return np.sort(np.concatenate(keep))


@dataclass
class PoolStats:
    """What one pool selection did: logged per round and written beside the pool."""

    prompts: int
    kept_by_difficulty: int
    kept_share: float
    pool_size: int
    pool_share: float
    cv_before: float
    cv_after: float
    counts_before: dict[int, int] = field(default_factory=dict)
    counts_after: dict[int, int] = field(default_factory=dict)
    all_wrong: int = 0
    all_right: int = 0
    too_easy: int = 0  # correct >= gamma but not all right (only when gamma < G)
    mean_pass_rate: float = float("nan")

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["counts_before"] = {str(k): v for k, v in self.counts_before.items()}
        d["counts_after"] = {str(k): v for k, v in self.counts_after.items()}
        return d


def select_pool(
    counts: pd.DataFrame,
    labels: Sequence[int],
    *,
    gamma: int | None = None,
    dynamic: bool = True,
    balance: bool = True,
    target_cv: float = 0.0,
    seed: int = 0,
) -> tuple[np.ndarray, PoolStats]:
    """Indices of the RL pool and its statistics.

    ``counts`` is :func:`group_counts`'s frame (one row per prompt, in prompt order); ``labels``
    the prompts' gold grades. ``dynamic`` applies :func:`difficulty_mask` with ``gamma`` (default:
    the group size ``n``); ``balance`` then down-sample to ``CV ≤ target_cv``
    (:func:`balance_classes`). CV before is the kept-by-difficulty pool's, after the final pool's.
    """
    labels_arr = np.asarray(labels, dtype=int)
    if len(counts) != len(labels_arr):
        raise ValueError(f"{len(counts)} prompt counts but {len(labels_arr)} labels")
    n = counts["n"].to_numpy(dtype=int)
    correct = counts["correct"].to_numpy(dtype=int)
    group = int(n.max()) if len(n) else 0
    g = int(gamma) if gamma is not None else group
    kept = np.flatnonzero(difficulty_mask(correct, g) & (n > 0)) if dynamic else np.arange(len(labels_arr))
    cv_before = coefficient_of_variation(labels_arr[kept])
    pool = kept[balance_classes(labels_arr[kept], target_cv, seed)] if balance and len(kept) else kept
    total = len(labels_arr)
    stats = PoolStats(
        prompts=total,
        kept_by_difficulty=int(len(kept)),
        kept_share=float(len(kept) / total) if total else float("nan"),
        pool_size=int(len(pool)),
        pool_share=float(len(pool) / total) if total else float("nan"),
        cv_before=cv_before,
        cv_after=coefficient_of_variation(labels_arr[pool]),
        counts_before=class_counts(labels_arr[kept]),
        counts_after=class_counts(labels_arr[pool]),
        all_wrong=int(((correct == 0) & (n > 0)).sum()),
        all_right=int(((correct == n) & (n > 0)).sum()),
        too_easy=int(((correct >= g) & (correct < n)).sum()),
        mean_pass_rate=float(np.nanmean(counts["pass_rate"])) if len(counts) and n.any() else float("nan"),
    )
    return pool, stats
