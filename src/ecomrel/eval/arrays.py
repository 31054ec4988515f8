"""Metrics of parallel arrays — what a trainer has in memory during evaluation.

:func:`array_metrics` is the trainers' entry point (the distill trainer's evaluation and
:class:`ecomrel.eval.student_evaluator.GradeEvaluator`): the same classification metrics as
:func:`ecomrel.eval.evaluate` (scikit-learn, one ECE) and the same NDCG (ranx through
:func:`ecomrel.eval.ranking.ndcg_at_k`), under the same names.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ecomrel.eval.classification import classification_metrics
from ecomrel.eval.ranking import ndcg_at_k
from ecomrel.grades import DEFAULT_SCALE, GradeScale

ARRAY_CLASSIFICATION = (
    "accuracy",
    "f1_macro",
    "f1_weighted",
    "precision",
    "recall",
    "f1",
    "rmse",
    "rmse_expected",
    "ece",
    "optimistic_rate",
    "pessimistic_rate",
    "optimistic_error_share",
)


def array_metrics(
    y_true: Sequence[int] | np.ndarray,
    probs: np.ndarray | None = None,
    *,
    pred_grade: Sequence[int] | np.ndarray | None = None,
    score: Sequence[float] | np.ndarray | None = None,
    query_ids: Sequence[str] | np.ndarray | None = None,
    metrics: Sequence[str] | None = None,
    ndcg_k: Sequence[int] = (10,),
    scale: GradeScale = DEFAULT_SCALE,
) -> dict[str, float | int]:
    """Classification (and, with ``query_ids``, NDCG) metrics of predictions against ``y_true``.

    ``probs`` (N × K grade probabilities) gives ``pred_grade`` (argmax), the expected grade
    (``score`` unless given) and ``ece``; without it pass ``pred_grade`` (and optionally
    ``score``). ``ndcg@k`` ranks each query's rows by ``score`` (the expected grade) with the
    judged grade as gain. ``metrics`` picks classification metric names (default: all the inputs
    allow); ``n`` is the number of rows.
    """
    y_true = np.asarray(y_true, dtype=int)
    if probs is not None:
        probs = np.asarray(probs, dtype=float)
        if pred_grade is None:
            pred_grade = probs.argmax(axis=1)
        if score is None:
            score = probs @ np.arange(probs.shape[1], dtype=float)
    if pred_grade is None:
        raise ValueError("array_metrics needs probs or pred_grade")
    pred_grade = np.asarray(pred_grade, dtype=int)
    expected = np.asarray(score, dtype=float) if score is not None else None
    if metrics is None:
        metrics = [
            m
            for m in ARRAY_CLASSIFICATION
            if (m != "ece" or probs is not None) and (m != "rmse_expected" or expected is not None)
        ]
    out: dict[str, float | int] = {"n": int(len(y_true))}
    out.update(
        classification_metrics(y_true, pred_grade, metrics, probs=probs, expected=expected, scale=scale)
    )
    if query_ids is not None:
        ranking_score = expected if expected is not None else pred_grade.astype(float)
        for k in ndcg_k:
            out[f"ndcg@{k}"] = ndcg_at_k(query_ids, ranking_score, y_true.astype(float), k)
    return out
