"""Grade-classification metrics: how well predicted grades match judged grades.

Functional, ranx-style: metric names are strings, the result is ``{name: value}``. The counting
metrics come from scikit-learn; the expected calibration error comes from
:mod:`ecomrel.eval.calibration` (numpy; one binning for every ECE and reliability diagram).

Metric names
    ``accuracy``, ``f1_micro``, ``f1_macro``, ``f1_weighted``;
    ``precision`` / ``recall`` / ``f1`` → one value per grade, keyed ``precision_<grade name>``,
    ``recall_<grade name>``, ``f1_<grade name>`` (NaN where undefined: a grade never predicted has
    no precision, a grade never judged no recall; F1 is NaN where both are undefined);
    ``mae`` / ``rmse`` — ordinal error of ``pred_grade`` against the judged grade;
    ``mae_expected`` / ``rmse_expected`` — error of the expected grade Σ k·p_k (needs ``expected``);
    ``raw_mae`` / ``raw_rmse`` — error on the source's raw scale against ``raw_score`` (the source
    label as a number, Home Depot's 1–3 rater mean): the prediction is the expected grade mapped
    linearly (:func:`grade_to_raw`, ``1 + 2·E/3``), or a calibrated score given as ``raw_pred``
    (``ecomrel eval --raw-scale calibrated``: the predictions' ``calibrated_score`` column);
    ``ece`` — top-label expected calibration error (needs grade probabilities);
    ``optimistic_rate`` / ``pessimistic_rate`` — share of *all pairs* predicted above / below the
    judged grade (LREF's and TaoSR1's "optimistic bias" of LLM judges);
    ``optimistic_error_share`` — share of the *errors* that over-grade: optimistic / (optimistic +
    pessimistic), NaN when there is no error (0.5 = no directional bias; DPO de-biasing lowers it).

The ECE's binning is :mod:`ecomrel.eval.calibration`'s, shared with the report's reliability
diagrams.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    mean_absolute_error,
    precision_recall_fscore_support,
    root_mean_squared_error,
)

from ecomrel.errors import ConfigError, DataError
from ecomrel.eval.calibration import DEFAULT_BINS, expected_calibration_error
from ecomrel.grades import DEFAULT_SCALE, GradeScale

__all__ = [
    "CLASSIFICATION_METRICS",
    "classification_metrics",
    "confusion_frame",
    "expected_calibration_error",
    "grade_to_raw",
]

CLASSIFICATION_METRICS: tuple[str, ...] = (
    "accuracy",
    "f1_micro",
    "f1_macro",
    "f1_weighted",
    "precision",
    "recall",
    "f1",
    "mae",
    "rmse",
    "mae_expected",
    "rmse_expected",
    "raw_mae",
    "raw_rmse",
    "ece",
    "optimistic_rate",
    "pessimistic_rate",
    "optimistic_error_share",
)
NEEDS_RAW = frozenset({"raw_mae", "raw_rmse"})
NEEDS_PROBS = frozenset({"ece"})
NEEDS_EXPECTED = frozenset({"mae_expected", "rmse_expected"})
PER_GRADE = ("precision", "recall", "f1")
"""Request names that expand to one value per grade, keyed ``<name>_<grade name>``."""

HOMEDEPOT_RAW_RANGE: tuple[float, float] = (1.0, 3.0)
"""Home Depot's rater mean runs 1–3, so grade ``s`` on 0..3 maps to ``raw = 1 + 2·s/3``."""


def grade_to_raw(s: np.ndarray, raw_range: tuple[float, float], max_grade: int) -> np.ndarray:
    """Linear map of a (possibly fractional) grade onto the raw scale.

    Grade 0 ↦ ``raw_range[0]`` and the top grade ↦ ``raw_range[1]``:
    ``raw = lo + (hi − lo)·s / max_grade`` — for Home Depot (1, 3) this is ``1 + 2·s/3``.
    """
    lo, hi = raw_range
    return lo + (hi - lo) * np.asarray(s, dtype=float) / max_grade


def available_metrics(has_raw: bool, has_probs: bool, has_expected: bool | None = None) -> list[str]:
    """The default metric list given which optional inputs exist (``has_expected`` defaults to
    ``has_probs``: the expected grade is computed from the probabilities)."""
    has_expected = has_probs if has_expected is None else has_expected
    out = []
    for m in CLASSIFICATION_METRICS:
        if (m in NEEDS_RAW and not has_raw) or (m in NEEDS_PROBS and not has_probs):
            continue
        if m in NEEDS_EXPECTED and not has_expected:
            continue
        out.append(m)
    return out


def classification_metrics(
    y_true: Sequence[int] | np.ndarray,
    y_pred: Sequence[int] | np.ndarray,
    metrics: Sequence[str] | None = None,
    *,
    probs: np.ndarray | None = None,
    expected: np.ndarray | None = None,
    raw_true: np.ndarray | None = None,
    raw_range: tuple[float, float] = HOMEDEPOT_RAW_RANGE,
    scale: GradeScale = DEFAULT_SCALE,
    ece_bins: int = DEFAULT_BINS,
    raw_pred: np.ndarray | None = None,
) -> dict[str, float]:
    """Compute the named classification metrics of predicted against judged grades.

    ``raw_pred`` is a prediction already on the raw scale (a calibrated score, e.g. the isotonic map
    of the expected grade onto Home Depot's 1–3): when given, ``raw_mae``/``raw_rmse`` use it instead
    of the linear :func:`grade_to_raw` map.

    ``probs`` (N × K) enables ``ece``; ``expected`` (or ``probs``) enables ``*_expected``;
    ``raw_true`` enables ``raw_mae``/``raw_rmse``, for which the
    prediction is ``expected`` (the expected grade Σ k·p_k, if given) else ``y_pred``, mapped by
    :func:`grade_to_raw`. ``metrics=None`` means every metric the inputs allow; naming one whose
    input is missing raises ``ValueError``.
    """
    y_true = np.asarray(y_true, dtype=int)
    y_pred = np.asarray(y_pred, dtype=int)
    has_raw = raw_true is not None
    has_probs = probs is not None
    if expected is None and has_probs:
        expected = np.asarray(probs, dtype=float) @ np.arange(np.asarray(probs).shape[1], dtype=float)
    has_expected = expected is not None
    if metrics is None:
        metrics = available_metrics(has_raw, has_probs, has_expected)
    unknown = [m for m in metrics if m not in CLASSIFICATION_METRICS]
    if unknown:
        raise ConfigError(
            f"unknown classification metric(s) {unknown}; known: {', '.join(CLASSIFICATION_METRICS)}"
        )
    if not has_raw and any(m in NEEDS_RAW for m in metrics):
        raise DataError("raw_mae/raw_rmse need a raw_score column in the judgments")
    if not has_probs and any(m in NEEDS_PROBS for m in metrics):
        raise DataError("ece needs grade probabilities p_0..p_K in the predictions")
    if not has_expected and any(m in NEEDS_EXPECTED for m in metrics):
        raise DataError("mae_expected/rmse_expected need expected_grade or p_0..p_K in the predictions")
    if len(y_true) == 0:
        return {}
    labels = scale.grades
    out: dict[str, float] = {}
    for m in metrics:
        if m == "accuracy":
            out[m] = float(accuracy_score(y_true, y_pred))
        elif m.startswith("f1_"):
            avg = m.removeprefix("f1_")
            # Averages run over the grades seen in y_true ∪ y_pred (scikit-learn's default), so a
            # source without some grade (WANDS has no complement) is not charged a 0 for it.
            out[m] = float(f1_score(y_true, y_pred, average=avg, zero_division=0))
        elif m in PER_GRADE:
            p, r, f, _ = precision_recall_fscore_support(
                y_true, y_pred, labels=labels, average=None, zero_division=np.nan
            )  # NaN, not 0, for a grade never predicted (precision) or never judged (recall)
            values = {"precision": p, "recall": r, "f1": f}[m]
            for g, v in zip(labels, values, strict=True):
                out[f"{m}_{scale.name(g)}"] = float(v)
        elif m == "mae":
            out[m] = float(mean_absolute_error(y_true, y_pred))
        elif m == "rmse":
            out[m] = float(root_mean_squared_error(y_true, y_pred))
        elif m in NEEDS_EXPECTED:
            fn = mean_absolute_error if m == "mae_expected" else root_mean_squared_error
            out[m] = float(fn(y_true.astype(float), np.asarray(expected, dtype=float)))
        elif m in NEEDS_RAW:
            if raw_pred is not None:
                r_pred = np.asarray(raw_pred, dtype=float)
            else:
                s = expected if expected is not None else y_pred
                r_pred = grade_to_raw(s, raw_range, scale.max_grade)
            raw_t = np.asarray(raw_true, dtype=float)
            ok = ~np.isnan(raw_t)
            fn = mean_absolute_error if m == "raw_mae" else root_mean_squared_error
            out[m] = float(fn(raw_t[ok], r_pred[ok])) if ok.any() else float("nan")
        elif m == "ece":
            out[m] = expected_calibration_error(np.asarray(probs), y_true, n_bins=ece_bins)
        elif m == "optimistic_rate":
            out[m] = float(np.mean(y_pred > y_true))
        elif m == "pessimistic_rate":
            out[m] = float(np.mean(y_pred < y_true))
        elif m == "optimistic_error_share":
            wrong = y_pred != y_true
            out[m] = float(np.mean(y_pred[wrong] > y_true[wrong])) if wrong.any() else float("nan")
    return out


def confusion_frame(
    y_true: np.ndarray, y_pred: np.ndarray, scale: GradeScale = DEFAULT_SCALE
) -> pd.DataFrame:
    """Confusion matrix (rows = judged grade, columns = predicted grade), labelled by grade name."""
    cm = confusion_matrix(np.asarray(y_true, dtype=int), np.asarray(y_pred, dtype=int), labels=scale.grades)
    names = list(scale.names)
    return pd.DataFrame(cm, index=pd.Index(names, name="true"), columns=pd.Index(names, name="pred"))
