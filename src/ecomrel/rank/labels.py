"""Learning-to-rank labels from LLM content relevance and engagement (Walmart, arXiv 2409.17460).

1. **Content label** c: the judge's expected grade Σk·p_k normalised to s ∈ [0, 1], then a
   transformation that *polarizes* the middle of the scale — σ(α·(s − β)) and its relatives
   (:func:`transform_content`; plots in ``docs/ranking_labels.md``).
2. **Engagement label** e ∈ [0, 1]: Bayesian-average click / add-to-cart / order rates
   (:mod:`ecomrel.rank.engagement`).
3. **Blend** into one *integer* grade for lambdarank (:func:`blend_grades`):

   - ``content_gated``: grade = band(c)·E + level(e) with band(c) = rint(c·(B−1)) and
     level(e) = rint(e·(E−1)): every product of a higher content band outranks every product of
     a lower one; engagement only orders products inside a band.
   - ``weighted_sum``: y = λ·c + (1 − λ)·e, grade = rint(y·(L−1)).
   - ``multiplicative``: y = c·e (engagement counts only as far as content allows), grade = rint(y·(L−1)).
   - ``content_only`` / ``engagement_only``: y = c or y = e, grade = rint(y·(L−1)).

The training gain of grade l is 2^l − 1 (``exponential``, LightGBM's default) or l (``linear``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ecomrel.data.schema import DataError
from ecomrel.grades import DEFAULT_SCALE, GradeScale
from ecomrel.rank.engagement import engagement_labels
from ecomrel.rank.rank_config import BlendConfig, ContentTransform, LabelConfig


def normalise_grade(expected_grade, scale: GradeScale = DEFAULT_SCALE) -> np.ndarray:
    """Expected grade on 0..max_grade → s ∈ [0, 1] (clipped)."""
    s = np.asarray(expected_grade, dtype=float) / scale.max_grade
    return np.clip(s, 0.0, 1.0)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def transform_content(s, config: ContentTransform) -> np.ndarray:
    """The content transformation family: identity, sigmoid, min-max-rescaled sigmoid, step."""
    s = np.clip(np.asarray(s, dtype=float), 0.0, 1.0)
    if config.kind == "identity":
        return s
    if config.kind == "step":
        return (s >= config.beta).astype(float)
    a, b = config.alpha, config.beta
    y = _sigmoid(a * (s - b))
    if config.kind == "sigmoid_rescaled":
        lo, hi = _sigmoid(a * (0.0 - b)), _sigmoid(a * (1.0 - b))
        y = (y - lo) / (hi - lo)
    return np.clip(y, 0.0, 1.0)


def content_scores(
    frame: pd.DataFrame, source: str = "judge", scale: GradeScale = DEFAULT_SCALE
) -> np.ndarray:
    """The raw content score s ∈ [0, 1] of each row: judge ``expected_grade`` or the human ``grade``."""
    col = "expected_grade" if source == "judge" else "grade"
    if col not in frame.columns:
        raise DataError(
            f"content label source {source!r} needs a {col!r} column (judge scores or human grades)"
        )
    values = pd.to_numeric(frame[col], errors="coerce")
    if values.isna().any():
        row = int(np.flatnonzero(values.isna().to_numpy())[0])
        qid, pid = frame.iloc[row][["query_id", "product_id"]]
        raise DataError(
            f"no {col} for pair (query {qid}, product {pid}) at row {row}: cannot build its content label"
        )
    return normalise_grade(values.to_numpy(), scale)


def _levels(y: np.ndarray, n: int) -> np.ndarray:
    return np.rint(np.clip(y, 0.0, 1.0) * (n - 1)).astype(int)


def blend_grades(content: np.ndarray, engagement: np.ndarray, config: BlendConfig) -> np.ndarray:
    """Blend c and e ∈ [0, 1] into integer grades 0..config.n_grades()−1 (see module docstring)."""
    c, e = np.asarray(content, dtype=float), np.asarray(engagement, dtype=float)
    if config.rule == "content_gated":
        return _levels(c, config.content_bands) * config.engagement_levels + _levels(
            e, config.engagement_levels
        )
    if config.rule == "weighted_sum":
        y = config.weight * c + (1 - config.weight) * e
    elif config.rule == "multiplicative":
        y = c * e
    elif config.rule == "content_only":
        y = c
    else:
        y = e
    return _levels(y, config.levels)


def label_gain(config: BlendConfig) -> list[float]:
    """Gain of each integer grade for lambdarank's NDCG (LightGBM ``label_gain``)."""
    n = config.n_grades()
    if config.label_gain == "linear":
        return [float(i) for i in range(n)]
    return [float(2**i - 1) for i in range(n)]


def make_labels(
    frame: pd.DataFrame,
    engagement: pd.DataFrame | None,
    config: LabelConfig,
    scale: GradeScale = DEFAULT_SCALE,
) -> pd.DataFrame:
    """Content label, engagement label and integer training grade for each row of ``frame``.

    ``frame`` has ``query_id, product_id`` and ``expected_grade`` (judge) or ``grade`` (human);
    ``engagement`` is the log of the *training* queries only. Returns ``content_label``,
    ``engagement_label`` and ``label`` aligned with ``frame``.
    """
    rule = config.blend.rule
    out = pd.DataFrame(index=frame.index)
    if rule == "engagement_only":
        out["content_label"] = np.nan
    else:
        out["content_label"] = transform_content(
            content_scores(frame, config.content_source, scale), config.content
        )
    if rule == "content_only":
        out["engagement_label"] = np.nan
    else:
        if engagement is None or len(engagement) == 0:
            raise DataError(
                f"blend rule {rule!r} needs an engagement log (engagement.parquet) and there is none"
            )
        out["engagement_label"] = engagement_labels(frame, engagement, config.engagement)
    out["label"] = blend_grades(
        out["content_label"].fillna(0).to_numpy(), out["engagement_label"].fillna(0).to_numpy(), config.blend
    )
    return out
