"""The baseline stage: score every judged pair lexically, tune grade cuts on dev, write predictions."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ecomrel.baselines.lexical import METHODS, GradeThresholds, score_pairs
from ecomrel.data.schema import DataError, Dataset


def write_predictions(pred: pd.DataFrame, path: str | Path) -> Path:
    """Write a prediction file (the contract in ``ecomrel.data.schema``) atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".parquet.tmp")
    pq.write_table(pa.Table.from_pandas(pred, preserve_index=False), tmp)
    tmp.replace(path)
    return path


def run_baseline(
    method: str,
    data_dir: str | Path,
    out_dir: str | Path,
    *,
    tune_split: str = "dev",
    eval_split: str | None = "test",
    objective: str = "macro_f1",
    description: bool = False,
    gains: str = "grade",
) -> dict[str, Any]:
    """Score all judged pairs with ``method``, tune grade thresholds on ``tune_split``, evaluate.

    Writes ``<out_dir>/<method>_predictions.parquet`` (query_id, product_id, score, pred_grade and
    the isotonic expected_grade for every judged pair) and ``<out_dir>/<method>_thresholds.json``.
    Returns the paths, the tuned cuts and, when ``eval_split`` exists in the folder's splits, that
    split's metrics (``metrics``, scalars) and its :class:`~ecomrel.eval.Report` (``report``).
    """
    if method not in METHODS:
        raise DataError(f"unknown baseline {method!r}; choose one of {', '.join(METHODS)}")
    ds = Dataset.load(data_dir)
    if ds.splits is None:
        raise DataError(f"{data_dir}: no splits.parquet; run `ecomrel data split` first")
    pairs = ds.pairs()
    start = time.perf_counter()
    scores = score_pairs(method, pairs, description=description)
    seconds = time.perf_counter() - start

    tune = pairs["query_id"].isin(ds.split_queries(tune_split)).to_numpy()
    if not tune.any():
        known = ", ".join(sorted(ds.splits["split"].unique()))
        raise DataError(f"{data_dir}: split {tune_split!r} has no judged pairs (splits: {known})")
    thresholds = GradeThresholds.fit(scores[tune], pairs["grade"].to_numpy()[tune], objective, method=method)
    thresholds.meta = {"tuned_on": tune_split, "n_tune_pairs": int(tune.sum()), "description": description}

    out_dir = Path(out_dir)
    pred = pd.DataFrame(
        {
            "query_id": pairs["query_id"].astype(str),
            "product_id": pairs["product_id"].astype(str),
            "score": scores,
            "pred_grade": thresholds.predict(scores).astype("int64"),
            "expected_grade": thresholds.expected_grade(scores),
        }
    )
    pred_path = write_predictions(pred, out_dir / f"{method}_predictions.parquet")
    thr_path = thresholds.save(out_dir / f"{method}_thresholds.json")
    result: dict[str, Any] = {
        "method": method,
        "predictions": str(pred_path),
        "thresholds": str(thr_path),
        "cuts": thresholds.cuts,
        "tune_objective": thresholds.objective_value,
        "score_seconds": seconds,
        "metrics": None,
    }
    if eval_split is not None and eval_split in set(ds.splits["split"]):
        from ecomrel.eval import evaluate

        report = evaluate(ds, pred, split=eval_split, gains=gains, name=f"{method} ({eval_split})")
        result["metrics"] = report.flat()
        result["report"] = report
    return result
