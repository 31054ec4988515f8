"""Soft targets from a rater mean: the grade distribution a panel of raters implies.

Where a source's label is the mean of ``k`` raters on an integer ordinal scale ``lo..hi`` (Home
Depot: 1 irrelevant, 2 partially relevant, 3 perfect match, at least three raters), a hard grade
throws away how much the raters agreed: ``2.33`` (two "partially", one "perfect") and ``2.0``
(all "partially") can land in the same bucket. ``targets: rater_distribution`` trains on the
distribution instead, built in two exact steps:

1. **Rater level: the least-spread panel with that mean.** With ``m`` the mean, ``f = ⌊m⌋`` and
   ``φ = m − f``, the raters' grades are put on ``f`` with weight ``1 − φ`` and on ``f + 1`` with
   weight ``φ``. For ``k`` raters this is the panel of ``k·(1−φ)`` votes ``f`` and ``k·φ`` votes
   ``f+1`` — the one panel whose ratings all lie on the two rater grades next to the mean (the
   minimum-variance panel among all with mean ``m``; e.g. ``2.33`` with three raters is {2, 2, 3},
   not {1, 3, 3}). It needs no ``k``: when the rater count is known (``rater_count``), ``φ`` is
   first rounded to a multiple of ``1/k`` so that the panel exists; when it is unknown (Home Depot's
   file) the mean is used as given.
2. **Rater grade → model grades, linearly.** A rater grade ``r`` sits at position
   ``x = (r − lo)/(hi − lo)·(K − 1)`` on the model's ``K`` grades; where ``x`` falls between two
   grades its weight is split between them in proportion to the distance (Home Depot on the four
   default grades: 1 ↦ irrelevant, 3 ↦ exact, 2 ↦ x = 1.5, half complement and half substitute).

Both steps are linear and mean-preserving, so the target's expected grade is exactly
``(m − lo)/(hi − lo)·(K − 1)`` — the inverse of ecomrel's linear raw-scale map
(:func:`ecomrel.eval.classification.grade_to_raw`, ``1 + 2·E/3`` for Home Depot). Examples (Home
Depot, default scale, p_0..p_3): 1.0 → (1, 0, 0, 0); 1.33 → (⅔, ⅙, ⅙, 0); 1.67 → (⅓, ⅓, ⅓, 0);
2.0 → (0, ½, ½, 0); 2.33 → (0, ⅓, ⅓, ⅓); 2.67 → (0, ⅙, ⅙, ⅔); 3.0 → (0, 0, 0, 1).

The distill trainer feeds these rows to :class:`~ecomrel.train.losses.SoftLabelKLLoss` as its
*human* term, a soft cross-entropy (equal to the hard cross-entropy when the target is one-hot, so
``hard`` and ``rater_distribution`` are the same loss on the same scale).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

RATER_TARGETS = ("hard", "rater_distribution")
"""``targets`` values of the distill config: the hard grade, or :func:`rater_distribution`."""


def rater_level_distribution(
    mean: float, rater_scale: tuple[int, int] = (1, 3), rater_count: int | None = None
) -> np.ndarray:
    """Step 1: weights over the rater grades ``lo..hi`` (length ``hi − lo + 1``) whose mean is ``mean``.

    ``mean`` outside ``[lo, hi]`` raises ``ValueError`` (callers name the row).
    """
    lo, hi = int(rater_scale[0]), int(rater_scale[1])
    if hi <= lo:
        raise ValueError(f"rater scale must have lo < hi, got {rater_scale}")
    m = float(mean)
    if not math.isfinite(m) or not lo - 1e-9 <= m <= hi + 1e-9:
        raise ValueError(f"rater mean {mean!r} is outside the rater scale {lo}..{hi}")
    m = min(max(m, lo), hi)
    f = min(int(math.floor(m)), hi - 1)
    phi = m - f
    if rater_count is not None and rater_count > 0:
        phi = round(phi * rater_count) / rater_count
    out = np.zeros(hi - lo + 1, dtype=float)
    out[f - lo] += 1.0 - phi
    out[f + 1 - lo] += phi
    return out


def rater_to_grades(rater_weights: np.ndarray, num_grades: int) -> np.ndarray:
    """Step 2: spread weights over the rater grades onto ``num_grades`` model grades, linearly."""
    w = np.asarray(rater_weights, dtype=float)
    n = len(w)
    out = np.zeros(num_grades, dtype=float)
    for i, weight in enumerate(w):
        if weight == 0:
            continue
        x = i / (n - 1) * (num_grades - 1)
        a = int(math.floor(x + 1e-9))
        frac = x - a
        if frac < 1e-9 or a >= num_grades - 1:
            out[min(a, num_grades - 1)] += weight
        else:
            out[a] += weight * (1.0 - frac)
            out[a + 1] += weight * frac
    return out


def rater_distribution(
    mean: float,
    num_grades: int = 4,
    rater_scale: tuple[int, int] = (1, 3),
    rater_count: int | None = None,
) -> np.ndarray:
    """The soft target of one pair: grade distribution (length ``num_grades``) implied by a rater mean.

    See the module docstring for the exact construction; the expected grade of the result is
    ``(mean − lo)/(hi − lo)·(num_grades − 1)``.
    """
    return rater_to_grades(rater_level_distribution(mean, rater_scale, rater_count), num_grades)


def rater_distributions(
    means: Sequence[float] | np.ndarray,
    num_grades: int = 4,
    rater_scale: tuple[int, int] = (1, 3),
    rater_counts: Sequence[int | None] | np.ndarray | None = None,
) -> np.ndarray:
    """:func:`rater_distribution` of many rows: an ``(n, num_grades)`` array; NaN rows where the mean
    is missing (NaN/None). A mean outside the scale raises ``ValueError`` naming the row (0-based)."""
    means = np.asarray(pd_float(means), dtype=float)
    out = np.full((len(means), num_grades), np.nan)
    for i, m in enumerate(means):
        if not math.isfinite(m):
            continue
        k = None
        if rater_counts is not None:
            c = pd_float([rater_counts[i]])[0]
            k = int(c) if math.isfinite(c) and c > 0 else None
        try:
            out[i] = rater_distribution(m, num_grades, rater_scale, k)
        except ValueError as exc:
            raise ValueError(f"row {i}: {exc}") from None
    return out


def pd_float(values: Sequence[float] | np.ndarray) -> list[float]:
    """Values as floats with None/pd.NA as NaN."""
    out = []
    for v in values:
        try:
            out.append(float(v))
        except (TypeError, ValueError):
            out.append(float("nan"))
    return out
