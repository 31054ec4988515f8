"""Join a prediction file with the judgments and compute every metric: :func:`evaluate`.

Predictions follow the contract in :mod:`ecomrel.data.schema` (query_id, product_id, score,
pred_grade, optional p_0..p_K, expected_grade). Judged pairs without a prediction are counted
(``n_missing_predictions``) — they are absent from the classification metrics and rank as "not
retrieved" (they still count in the ideal DCG). Predicted pairs without a judgment rank with gain 0.
When the judgments carry ``true_grade`` (the synthetic sample's noise-free label), every metric
is also computed against it, keyed ``true_grade/<metric>``. ``by=[...]`` adds the same metrics per
query segment (see :mod:`ecomrel.eval.segments`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ecomrel.data.schema import Dataset, read_table
from ecomrel.errors import ConfigError, DataError
from ecomrel.eval.calibration import DEFAULT_BINS, ReliabilityBins, reliability_bins
from ecomrel.eval.classification import (
    CLASSIFICATION_METRICS,
    HOMEDEPOT_RAW_RANGE,
    NEEDS_RAW,
    available_metrics,
    classification_metrics,
    confusion_frame,
)
from ecomrel.eval.metrics_file import write_metrics
from ecomrel.eval.ranking import (
    Gains,
    check_ndcg_queries,
    graded_queries,
    is_ranking_metric,
    parse_metric,
    ranking_metrics,
)
from ecomrel.eval.report import Report
from ecomrel.eval.segments import MISSING, segment_labels, segment_order
from ecomrel.grades import DEFAULT_SCALE, GradeScale

CALIBRATED_COLUMN = "calibrated_score"
"""Prediction-file column with a score on the source's own scale (an isotonic calibration's output)."""
RAW_SCALES: dict[str, str] = {
    "linear": "raw_mae/raw_rmse predict the raw score as lo + (hi − lo)·E/max_grade (Home Depot: 1 + 2·E/3)",
    "calibrated": f"raw_mae/raw_rmse predict the raw score by the predictions' {CALIBRATED_COLUMN} column",
}
DEFAULT_RANKING = ("ndcg@5", "ndcg@10", "mrr")
DEFAULT_ENGAGEMENT = ("engagement@10",)
TRUE_PREFIX = "true_grade/"
KEY = ["query_id", "product_id"]


def check_predictions(
    pred: pd.DataFrame, scale: GradeScale = DEFAULT_SCALE, source: str = "predictions"
) -> pd.DataFrame:
    """Validate a prediction frame against the contract; ``DataError`` names file, row and field.

    Rows are counted from 1 (the first data row), as in ``rejects.parquet``."""
    missing = [c for c in ("query_id", "product_id", "score", "pred_grade") if c not in pred.columns]
    if missing:
        raise DataError(f"{source}: missing column(s) {', '.join(missing)}")
    pred = pred.reset_index(drop=True).copy()
    pred["query_id"] = pred["query_id"].astype(str)
    pred["product_id"] = pred["product_id"].astype(str)
    dup = pred.duplicated(KEY)
    if dup.any():
        i = int(np.flatnonzero(dup)[0])
        raise DataError(
            f"{source}: row {i + 1}: duplicate pair ({pred.at[i, 'query_id']}, {pred.at[i, 'product_id']})"
        )
    for col in ("score", "pred_grade"):
        values = pd.to_numeric(pred[col], errors="coerce")
        bad = values.isna() | ~np.isfinite(values.to_numpy(dtype=float))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise DataError(f"{source}: row {i + 1}: field {col}: not a finite number ({pred.at[i, col]!r})")
        pred[col] = values
    grades = pred["pred_grade"].to_numpy()
    bad = (grades != np.round(grades)) | (grades < 0) | (grades > scale.max_grade)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"{source}: row {i + 1}: field pred_grade: {grades[i]} is not a grade 0..{scale.max_grade}"
        )
    pred["pred_grade"] = pred["pred_grade"].astype(int)
    pcols = scale.prob_columns()
    present = [c for c in pcols if c in pred.columns]
    if present and present != pcols:
        raise DataError(
            f"{source}: probability columns must be all of {', '.join(pcols)}; found {', '.join(present)}"
        )
    if present:
        p = pred[pcols].to_numpy(dtype=float)
        bad = np.isnan(p).any(axis=1) | (p < -1e-6).any(axis=1) | (np.abs(p.sum(axis=1) - 1) > 1e-3)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise DataError(
                f"{source}: row {i + 1}: fields {pcols[0]}..{pcols[-1]}: "
                "probabilities must be ≥0 and sum to 1"
            )
    return pred


def _resolve(
    data: Dataset | str | Path | pd.DataFrame, split: str | None
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Judgments (of one split) and the engagement table from a dataset, a folder or a frame."""
    if isinstance(data, str | Path):
        data = Dataset.load(data)
    if isinstance(data, Dataset):
        judged, engagement = data.judgments, data.engagement
        if split is not None:
            try:
                judged = judged[judged["query_id"].isin(data.split_queries(split))]
            except KeyError as exc:
                raise DataError(str(exc).strip("'\"")) from None
            if judged.empty:
                raise DataError(f"split {split!r} has no judged pairs")
    else:
        judged, engagement = data, None
        if split is not None:
            if "split" not in judged.columns:
                raise DataError("a judgments frame needs a 'split' column to select a split")
            judged = judged[judged["split"] == split]
    judged = judged.copy()
    judged["query_id"] = judged["query_id"].astype(str)
    judged["product_id"] = judged["product_id"].astype(str)
    return judged.reset_index(drop=True), engagement


def _expected(pred: pd.DataFrame, scale: GradeScale) -> np.ndarray | None:
    if "expected_grade" in pred.columns and pred["expected_grade"].notna().all():
        return pred["expected_grade"].to_numpy(dtype=float)
    pcols = scale.prob_columns()
    if all(c in pred.columns for c in pcols):
        return pred[pcols].to_numpy(dtype=float) @ np.arange(scale.size, dtype=float)
    return None


def _segment_table(data: Dataset | str | Path | pd.DataFrame, judged: pd.DataFrame, by: Sequence[str]):
    """query_id → segment labels for ``by``, from the dataset's queries table (or the frame itself)."""
    if isinstance(data, str | Path):
        data = Dataset.load(data)
    if isinstance(data, Dataset):
        return segment_labels(data.queries, by)
    cols = ["query_id", *[c for c in by if c in judged.columns]]
    queries = judged[cols].drop_duplicates("query_id")
    return segment_labels(queries, by)


def evaluate(
    data: Dataset | str | Path | pd.DataFrame,
    predictions: pd.DataFrame | str | Path,
    split: str | None = None,
    metrics: Sequence[str] | None = None,
    gains: Gains = "grade",
    *,
    engagement: pd.DataFrame | None = None,
    mrr_threshold: int = 2,
    raw_range: tuple[float, float] = HOMEDEPOT_RAW_RANGE,
    scale: GradeScale = DEFAULT_SCALE,
    name: str = "eval",
    queries: Sequence[str] | set[str] | None = None,
    by: Sequence[str] | None = None,
    ece_bins: int = DEFAULT_BINS,
    ndcg_queries: str = "all",
    raw_scale: str = "linear",
) -> Report:
    """Every requested metric of ``predictions`` against the judged pairs of ``split``.

    Definitions of the options (recorded in ``Report.options`` and in the ``metrics.json`` row):

    - ``ndcg_queries``: ``"all"`` averages NDCG over every query; ``"graded"`` only over queries
      whose judged products do not all share one grade (see :mod:`ecomrel.eval.ranking`); the count
      ``n_graded_queries`` is then reported.
    - ``gains``: ``"grade"`` (the grade, linear), ``"source"`` (the source label: ``raw_score −
      raw_range[0]``, Home Depot's rater mean − 1), ``"raw-1"``, ``"esci"`` or a grade → gain map.
    - ``raw_scale``: how ``raw_mae``/``raw_rmse`` (error on the source's own scale, against
      ``raw_score``) get a prediction on that scale: ``"linear"`` maps the expected grade
      linearly (``1 + 2·E/3`` for Home Depot, ``raw_range``); ``"calibrated"`` reads the
      predictions' ``calibrated_score`` column (an isotonic calibration fitted on dev, written by
      the model's saved calibration); a file without that column is a :class:`DataError`.
      ``rmse`` / ``rmse_expected`` stay on the grade scale (0..K−1) either way.

    ``data`` is a :class:`Dataset`, a data folder, or a judgments frame (then pass ``engagement``
    yourself). ``metrics=None`` means every metric the inputs allow (raw-scale errors need
    ``raw_score``; ``ece`` needs p_0..p_K; ``engagement@10`` needs an engagement table).
    ``gains``: ``"grade"``, ``"esci"``, ``"raw-1"`` or a grade → gain map (see ``ranking``).
    ``raw_range`` maps the expected grade to the raw scale linearly (Home Depot: 1 + 2·s/3).
    ``queries`` restricts the evaluation to those query ids, so that a model that scored a
    subset of whole queries (the LLM judge on CPU) is compared with others on the same subset.
    ``by`` names columns of the queries table (``kind``, ``band`` — derived from ``frequency``, see
    :mod:`ecomrel.eval.segments` — or any user column): every metric is also computed per value of
    each, in ``Report.segments[column][value]``.
    """
    check_ndcg_queries(ndcg_queries)
    if raw_scale not in RAW_SCALES:
        raise ConfigError(f"raw_scale {raw_scale!r}: use one of {', '.join(RAW_SCALES)}")
    judged, eng = _resolve(data, split)
    if queries is not None:
        judged = judged[judged["query_id"].isin(set(queries))].reset_index(drop=True)
        if judged.empty:
            raise DataError("none of the given queries has judged pairs")
    engagement = engagement if engagement is not None else eng
    if isinstance(predictions, str | Path):
        source = str(predictions)
        predictions = read_table(predictions)
    else:
        source = "predictions"
    pred = check_predictions(predictions, scale, source)
    pred = pred[pred["query_id"].isin(set(judged["query_id"]))]
    if raw_scale == "calibrated":
        check_calibrated(pred, source)

    has_raw = "raw_score" in judged.columns and judged["raw_score"].notna().any()
    pcols = scale.prob_columns()
    has_probs = all(c in pred.columns for c in pcols)
    has_eng = engagement is not None and not engagement.empty
    if metrics is None:
        metrics = [
            *available_metrics(has_raw, has_probs, has_probs or "expected_grade" in pred.columns),
            *DEFAULT_RANKING,
            *(DEFAULT_ENGAGEMENT if has_eng else ()),
        ]
    cls_names = [m for m in metrics if m in CLASSIFICATION_METRICS]
    rank_names = [m for m in metrics if m not in CLASSIFICATION_METRICS]
    for m in rank_names:
        if not is_ranking_metric(m):
            raise ConfigError(
                f"unknown metric {m!r}; classification: {', '.join(CLASSIFICATION_METRICS)}; "
                "ranking: ndcg@k, mrr, mrr@k, engagement@k, atc_share@k"
            )
        parse_metric(m)

    targets = ["grade"]
    if "true_grade" in judged.columns and judged["true_grade"].notna().all():
        targets.append("true_grade")
    settings = dict(
        cls_names=cls_names,
        rank_names=rank_names,
        targets=targets,
        gains=gains,
        mrr_threshold=mrr_threshold,
        raw_range=raw_range,
        scale=scale,
        has_raw=has_raw,
        has_probs=has_probs,
        engagement=engagement if has_eng else None,
        ece_bins=ece_bins,
        ndcg_queries=ndcg_queries,
        raw_scale=raw_scale,
    )
    out, counts, confusion, calibration = _compute(judged, pred, **settings)
    options = {
        "ndcg_queries": ndcg_queries,
        "gains": gains if isinstance(gains, str) else {str(k): float(v) for k, v in gains.items()},
        "raw_scale": raw_scale,
        "raw_range": [float(raw_range[0]), float(raw_range[1])],
    }

    segments: dict[str, dict[str, dict[str, float | int]]] = {}
    if by:
        labels = _segment_table(data, judged, list(dict.fromkeys(by)))
        lab = judged[["query_id"]].merge(labels, on="query_id", how="left")
        for col in labels.columns[1:]:
            col_values = lab[col].fillna(MISSING).astype(str).to_numpy()
            segments[col] = {}
            for value in segment_order(col, col_values.tolist()):
                qs = set(judged.loc[col_values == value, "query_id"])
                seg_j = judged[judged["query_id"].isin(qs)].reset_index(drop=True)
                seg_p = pred[pred["query_id"].isin(qs)]
                m, c, _, _ = _compute(seg_j, seg_p, **settings)
                segments[col][value] = {**m, **c}
    return Report(
        metrics=out,
        counts=counts,
        confusion=confusion,
        name=name,
        segments=segments,
        calibration=calibration,
        options=options,
    )


def check_calibrated(pred: pd.DataFrame, source: str = "predictions") -> None:
    """``raw_scale: calibrated`` needs a finite ``calibrated_score`` on every row; DataError otherwise."""
    if CALIBRATED_COLUMN not in pred.columns:
        raise DataError(
            f"{source}: raw scale 'calibrated' needs a {CALIBRATED_COLUMN} column (a score on the source's "
            "scale from the model's saved calibration); this file has none: use raw scale 'linear'"
        )
    values = pd.to_numeric(pred[CALIBRATED_COLUMN], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(values)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(f"{source}: row {i + 1}: field {CALIBRATED_COLUMN}: not a finite number")


def _compute(
    judged: pd.DataFrame,
    pred: pd.DataFrame,
    *,
    cls_names: list[str],
    rank_names: list[str],
    targets: list[str],
    gains: Gains,
    mrr_threshold: int,
    raw_range: tuple[float, float],
    scale: GradeScale,
    has_raw: bool,
    has_probs: bool,
    engagement: pd.DataFrame | None,
    ece_bins: int,
    ndcg_queries: str = "all",
    raw_scale: str = "linear",
) -> tuple[dict[str, float], dict[str, int], dict[str, pd.DataFrame], dict[str, ReliabilityBins]]:
    """Metrics, counts, confusion matrices and reliability bins of one set of judged pairs."""
    merged = judged.merge(pred, on=KEY, how="left", indicator=True)
    has_pred = (merged["_merge"] == "both").to_numpy()
    scored = merged[has_pred]
    n_judged_pred = int(has_pred.sum())
    counts = {
        "n_pairs": len(judged),
        "n_queries": int(judged["query_id"].nunique()),
        "n_predicted": n_judged_pred,
        "n_missing_predictions": len(judged) - n_judged_pred,
        "n_unjudged_predictions": len(pred) - n_judged_pred,
    }
    if ndcg_queries == "graded":
        counts["n_graded_queries"] = len(graded_queries(judged, "grade"))
    pcols = scale.prob_columns()
    out: dict[str, float] = {}
    confusion: dict[str, pd.DataFrame] = {}
    calibration: dict[str, ReliabilityBins] = {}
    probs = scored[pcols].to_numpy(dtype=float) if has_probs else None
    for target in targets:
        prefix = "" if target == "grade" else TRUE_PREFIX
        names = cls_names
        if target != "grade":  # the raw score belongs to the observed label, not the true one
            names = [m for m in names if m not in NEEDS_RAW]
        if len(scored):
            y_true = scored[target].to_numpy(dtype=int)
            vals = classification_metrics(
                y_true,
                scored["pred_grade"].to_numpy(dtype=int),
                names,
                probs=probs,
                expected=_expected(scored, scale),
                raw_true=scored["raw_score"].to_numpy(dtype=float) if has_raw else None,
                raw_range=raw_range,
                scale=scale,
                ece_bins=ece_bins,
                raw_pred=(
                    scored[CALIBRATED_COLUMN].to_numpy(dtype=float)
                    if raw_scale == "calibrated" and has_raw
                    else None
                ),
            )
            out.update({prefix + k: v for k, v in vals.items()})
            confusion[target] = confusion_frame(scored[target], scored["pred_grade"], scale)
            if probs is not None:
                calibration[target] = reliability_bins(probs, y_true, ece_bins)
        r_names = rank_names
        if target != "grade" and gains == "raw-1":
            r_names = [m for m in r_names if not m.startswith("ndcg")]
        if r_names:
            if target != "grade":
                r_names = [m for m in r_names if parse_metric(m)[0] in ("ndcg", "mrr")]
            vals = ranking_metrics(
                judged,
                pred,
                r_names,
                gains=gains,
                grade_col=target,
                mrr_threshold=mrr_threshold,
                engagement=engagement,
                ndcg_queries=ndcg_queries,
                raw_low=raw_range[0],
            )
            out.update({prefix + k: v for k, v in vals.items()})
    return out, counts, confusion, calibration


def run_eval(
    data_dir: str | Path,
    predictions: str | Path,
    *,
    split: str | None = None,
    out: str | Path | None = None,
    stage: str = "eval",
    metrics: Sequence[str] | None = None,
    gains: Gains = "grade",
    by: Sequence[str] | None = None,
    ndcg_queries: str = "all",
    raw_scale: str = "linear",
) -> dict[str, float]:
    """The ``ecomrel eval`` stage from Python: evaluate, merge ``{stage: metrics}`` into ``out``.

    ``out`` (e.g. ``<run>/eval/metrics.json``) accumulates stages (with ``segments`` when ``by`` is
    given); the full report with confusion matrices goes beside it as ``<stage>.report.json``.
    Returns the stage's scalar row.
    """
    report = evaluate(
        data_dir,
        predictions,
        split=split,
        metrics=metrics,
        gains=gains,
        name=stage,
        by=by,
        ndcg_queries=ndcg_queries,
        raw_scale=raw_scale,
    )
    if out is not None:
        out = Path(out)
        write_metrics(out, {stage: report.row()})
        report.save(out.parent / f"{stage}.report.json")
    return report.flat()
