"""The run's metric files: the one ``metrics.json`` writer and the prediction-file index.

``<run>/eval/metrics.json`` is ``{row: {metric: value}}``: one *row* per evaluated model
(``bm25``, ``judge_zero_shot``, ``bm25@judge_subset``, ``student_minilm`` …), scalar metric values
(``null`` where a metric is undefined: NaN, ±inf or missing), and optionally a ``segments`` entry
with the same metrics per query segment::

    {"bm25": {"f1_macro": 0.31, "ndcg@10": 0.62, "n_pairs": 400,
              "segments": {"kind": {"negation": {"f1_macro": 0.22, "n_pairs": 41, ...}, ...},
                           "band": {"head": {...}, "torso": {...}, "tail": {...}}}}}

It is always valid JSON (``allow_nan=False``), written atomically, and every writer in ecomrel
goes through :func:`write_metrics`.

``<run>/eval/predictions.json`` indexes the prediction file behind each row, so the report can
draw confusion matrices, reliability diagrams and segment tables without knowing the stages::

    {"bm25": {"file": "baselines/bm25_predictions.parquet", "split": "test", "stage": "baselines"},
     "bm25@judge_subset": {"file": "baselines/bm25_predictions.parquet", "split": "test",
                           "queries_from": "judge/test/scores.parquet", "stage": "judge"},
     "judge_zero_shot": {"file": "judge/test/scores.parquet", "split": "test",
                         "queries_from": "judge/test/scores.parquet", "stage": "judge"}}

Paths are relative to the run folder. ``queries_from`` restricts the evaluation to the query ids
of that prediction file (the judge scores a subset of whole queries on CPU); optional ``gains`` is
the NDCG gain preset. A stage records its rows with :func:`record_predictions`. (A stage marker's
``"predictions": {row: path}`` is read too.)
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ecomrel.errors import DataError

METRICS_FILE = "metrics.json"
PREDICTIONS_INDEX = "predictions.json"
SEGMENTS_KEY = "segments"
OPTIONS_KEY = "options"
"""Row entry recording how an ``ecomrel eval`` row's metrics were defined (ndcg_queries, gains, raw_scale)."""


def json_safe(value: Any) -> Any:
    """``value`` with NaN/±inf as ``None``, numpy scalars/arrays as Python values, recursively."""
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return [json_safe(v) for v in value.tolist()]
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        value = float(value)
        return value if math.isfinite(value) else None
    return value


def write_metrics_json(metrics: Mapping[str, Any], path: str | Path) -> Path:
    """Write a whole metrics mapping to ``path``: valid JSON (NaN → ``null``), atomic, sorted keys."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(json_safe(metrics), indent=2, sort_keys=True, allow_nan=False) + "\n")
    tmp.replace(path)
    return path


def load_metrics(path: str | Path) -> dict[str, dict[str, Any]]:
    """``{row: {metric: value}}`` from ``path``; ``{}`` if it does not exist; invalid JSON is a DataError."""
    path = Path(path)
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(data, dict):
        raise DataError(f"{path}: expected a JSON object of rows")
    return data


def write_metrics(
    path: str | Path,
    rows: Mapping[str, Mapping[str, Any]],
    replace: Sequence[str] | None = None,
) -> dict[str, dict[str, Any]]:
    """Merge ``{row: {metric: value}}`` into the metrics file at ``path`` (atomic); returns the whole file.

    ``replace`` names rows an earlier run of the same stage wrote; they are dropped first, so a
    re-run leaves no stale rows. Values are made JSON-safe (NaN → ``null``).
    """
    path = Path(path)
    current = load_metrics(path)
    for name in replace or ():
        current.pop(name, None)
    for name, row in rows.items():
        current[name] = json_safe(dict(row))
    write_metrics_json(current, path)
    return current


def write_stage_metrics(
    path: str | Path, stage: str, metrics: Mapping[str, Any]
) -> dict[str, dict[str, Any]]:
    """Merge one row ``{stage: metrics}`` into the metrics file (kept for ``ecomrel eval --out``)."""
    return write_metrics(path, {stage: metrics})


# Kept for callers of the first version of the API.
load_stage_metrics = load_metrics


def scalar_metrics(row: Mapping[str, Any]) -> dict[str, float | int | None]:
    """The scalar part of a row (drops ``segments`` and any other nested entry)."""
    return {k: v for k, v in row.items() if v is None or isinstance(v, int | float)}


def record_predictions(
    run_dir: str | Path,
    row: str,
    file: str | Path,
    *,
    split: str | None = "test",
    stage: str | None = None,
    queries_from: str | Path | None = None,
    gains: str | None = None,
) -> Path:
    """Add (or replace) ``row``'s entry in ``<run>/eval/predictions.json``; paths stored run-relative."""
    run_dir = Path(run_dir)

    def rel(p: str | Path) -> str:
        p = Path(p)
        try:
            return str(p.resolve().relative_to(run_dir.resolve()))
        except ValueError:
            return str(p)

    path = run_dir / "eval" / PREDICTIONS_INDEX
    index = load_predictions_index(run_dir)
    entry: dict[str, Any] = {"file": rel(file), "split": split}
    if stage is not None:
        entry["stage"] = stage
    if queries_from is not None:
        entry["queries_from"] = rel(queries_from)
    if gains is not None and not isinstance(gains, str):
        gains = None  # an explicit gain map is not recorded; the report falls back to the run's gains
    if gains is not None:
        entry["gains"] = gains
    index[row] = entry
    write_metrics_json(index, path)
    return path


def load_predictions_index(run_dir: str | Path) -> dict[str, dict[str, Any]]:
    """The run's ``eval/predictions.json`` (``{}`` when absent)."""
    return load_metrics(Path(run_dir) / "eval" / PREDICTIONS_INDEX)
