"""LambdaMART rankers: LightGBM ``LGBMRanker`` (lambdarank, default) or XGBoost ``rank:ndcg``.

Query groups are made safe before any engine sees them: rows are sorted by query (stable), group
sizes are derived from the sorted ids, and LightGBM's per-query row limit for lambdarank
(10,000 rows) is checked with an error that names the offending query. Models are saved in the
engine's own format — LightGBM text (``model.txt``) or XGBoost JSON (``model.json``) — next to a
``metadata.json`` with the feature list and the label configuration. Nothing is pickled.

For more data than one machine holds, :func:`train_ranker_dask` trains LightGBM's
``DaskLGBMRanker`` with every query's rows inside one partition.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ecomrel import __version__
from ecomrel.data.schema import DataError
from ecomrel.rank.rank_config import RankerConfig

METADATA_FILE = "metadata.json"
MODEL_FILES = {"lightgbm": "model.txt", "xgboost": "model.json"}


def sort_by_query(frame: pd.DataFrame, query_col: str = "query_id") -> pd.DataFrame:
    """Rows of each query contiguous (stable sort keeps the within-query order)."""
    return frame.sort_values(query_col, kind="stable").reset_index(drop=True)


def group_sizes(query_ids: pd.Series | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(unique query ids in order, rows per query) of *sorted* ids; raises if a query is split."""
    ids = np.asarray(query_ids)
    if len(ids) == 0:
        raise DataError("no rows to rank")
    starts = np.r_[0, np.flatnonzero(ids[1:] != ids[:-1]) + 1]
    uniq = ids[starts]
    if len(set(uniq.tolist())) != len(uniq):
        seen: set = set()
        dup = next(q for q in uniq.tolist() if q in seen or seen.add(q))
        raise DataError(f"rows of query {str(dup)!r} are not contiguous: sort by query first (sort_by_query)")
    sizes = np.diff(np.r_[starts, len(ids)])
    return uniq, sizes


def check_group_limit(query_ids: np.ndarray, sizes: np.ndarray, limit: int) -> None:
    """LightGBM lambdarank refuses a query with more than ``limit`` rows: say which one, before training."""
    over = np.flatnonzero(sizes > limit)
    if len(over):
        i = int(over[0])
        raise DataError(
            f"query {str(query_ids[i])!r} has {int(sizes[i])} rows, above the per-query limit of {limit} for "
            f"lambdarank ({len(over)} such queries); cut its candidates (e.g. top-{limit} by BM25) first"
        )


def _check_labels(labels: np.ndarray, n_gains: int) -> np.ndarray:
    labels = np.asarray(labels)
    if not np.issubdtype(labels.dtype, np.integer):
        if np.any(np.isnan(labels.astype(float))) or np.any(labels != np.rint(labels)):
            raise DataError(
                "ranking labels must be integers (bin them with ecomrel.rank.labels.blend_grades)"
            )
        labels = labels.astype(int)
    if labels.min() < 0 or labels.max() >= n_gains:
        raise DataError(
            f"ranking labels must lie in 0..{n_gains - 1} (label_gain has {n_gains} entries), "
            f"got {labels.min()}..{labels.max()}"
        )
    return labels


def _lgbm_params(config: RankerConfig, label_gain: list[float]) -> dict[str, Any]:
    return dict(
        objective="lambdarank",
        n_estimators=config.n_estimators,
        learning_rate=config.learning_rate,
        num_leaves=config.num_leaves,
        min_child_samples=config.min_child_samples,
        label_gain=list(label_gain),
        n_jobs=config.n_jobs,
        random_state=config.seed,
        verbose=-1,
    )


@dataclass
class RankerModel:
    """A trained ranker: engine, feature order, booster and its metadata."""

    engine: str
    features: list[str]
    booster: Any
    metadata: dict = field(default_factory=dict)

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        missing = [f for f in self.features if f not in frame.columns]
        if missing:
            raise DataError(f"features missing for prediction: {', '.join(missing)}")
        X = frame[self.features].to_numpy(dtype=float)
        if self.engine == "lightgbm":
            return np.asarray(self.booster.predict(X, num_threads=1), dtype=float)
        import xgboost as xgb

        return np.asarray(self.booster.predict(xgb.DMatrix(X, feature_names=self.features)), dtype=float)

    def save(self, out_dir: str | Path) -> dict[str, str]:
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        model_path = out_dir / MODEL_FILES[self.engine]
        self.booster.save_model(str(model_path))
        meta = {
            **self.metadata,
            "engine": self.engine,
            "features": self.features,
            "model_file": model_path.name,
        }
        (out_dir / METADATA_FILE).write_text(json.dumps(meta, indent=2, default=str))
        return {"model": str(model_path), "metadata": str(out_dir / METADATA_FILE)}

    @classmethod
    def load(cls, folder: str | Path) -> RankerModel:
        folder = Path(folder)
        meta_path = folder / METADATA_FILE
        if not meta_path.exists():
            raise FileNotFoundError(f"{folder}: no {METADATA_FILE} (not a ranker model folder)")
        meta = json.loads(meta_path.read_text())
        engine = meta.get("engine")
        if engine not in MODEL_FILES:
            raise DataError(f"{meta_path}: unknown engine {engine!r}")
        model_path = folder / meta.get("model_file", MODEL_FILES[engine])
        if engine == "lightgbm":
            import lightgbm as lgb

            booster = lgb.Booster(model_file=str(model_path))
        else:
            import xgboost as xgb

            booster = xgb.Booster()
            booster.load_model(str(model_path))
        return cls(engine=engine, features=list(meta["features"]), booster=booster, metadata=meta)


def train_ranker(
    frame: pd.DataFrame,
    features: list[str],
    config: RankerConfig | None = None,
    label_gain: list[float] | None = None,
    label_col: str = "label",
    label_config: dict | None = None,
) -> RankerModel:
    """Train on ``frame`` (one row per pair, integer ``label_col``) grouped by ``query_id``."""
    config = config or RankerConfig()
    if label_col not in frame.columns:
        raise DataError(f"training frame has no {label_col!r} column")
    frame = sort_by_query(frame)
    qids, sizes = group_sizes(frame["query_id"])
    gains = list(label_gain) if label_gain is not None else [float(2**i - 1) for i in range(31)]
    y = _check_labels(frame[label_col].to_numpy(), len(gains))
    X = frame[features].to_numpy(dtype=float)
    meta: dict[str, Any] = {
        "ecomrel_version": __version__,
        "n_rows": len(frame),
        "n_queries": len(qids),
        "label_gain": gains,
        "label_config": label_config,
        "ranker_config": config.model_dump(),
    }
    if config.engine == "lightgbm":
        import lightgbm as lgb

        check_group_limit(qids, sizes, config.max_rows_per_query)
        model = lgb.LGBMRanker(**_lgbm_params(config, gains))
        model.fit(X, y, group=sizes, feature_name=list(features))
        meta["engine_version"] = lgb.__version__
        return RankerModel("lightgbm", list(features), model.booster_, meta)

    import xgboost as xgb

    exp_gain = gains == [float(2**i - 1) for i in range(len(gains))]
    if not exp_gain and gains != [float(i) for i in range(len(gains))]:
        raise DataError("xgboost supports only exponential (2^l−1) or linear (l) label gains")
    qcodes = np.repeat(np.arange(len(sizes)), sizes)
    model = xgb.XGBRanker(
        objective="rank:ndcg",
        n_estimators=config.n_estimators,
        learning_rate=config.learning_rate,
        max_leaves=config.num_leaves,
        grow_policy="lossguide",
        tree_method="hist",
        min_child_weight=float(config.min_child_samples),
        ndcg_exp_gain=exp_gain,
        lambdarank_pair_method="topk",
        lambdarank_num_pair_per_sample=config.eval_at,
        eval_metric=f"ndcg@{config.eval_at}",
        n_jobs=config.n_jobs,
        random_state=config.seed,
    )
    model.fit(pd.DataFrame(X, columns=features), y, qid=qcodes)
    meta["engine_version"] = xgb.__version__
    return RankerModel("xgboost", list(features), model.get_booster(), meta)


def query_aligned_chunks(sizes: np.ndarray, n_partitions: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Split consecutive query groups into ≤ n_partitions chunks of similar row counts.

    Returns (rows per chunk, queries per chunk): chunk boundaries fall only between queries, so
    every query's rows sit in exactly one partition, as lambdarank needs.
    """
    sizes = np.asarray(sizes)
    n_partitions = max(1, min(n_partitions, len(sizes)))
    cum = np.cumsum(sizes)
    targets = cum[-1] * np.arange(1, n_partitions) / n_partitions
    cuts = np.unique(np.searchsorted(cum, targets, side="left") + 1)
    cuts = cuts[(cuts > 0) & (cuts < len(sizes))]
    bounds = np.r_[0, cuts, len(sizes)]
    groups = tuple(int(b - a) for a, b in zip(bounds[:-1], bounds[1:], strict=True))
    rows = tuple(int(sizes[a:b].sum()) for a, b in zip(bounds[:-1], bounds[1:], strict=True))
    return rows, groups


def train_ranker_dask(
    client: Any,
    frame: pd.DataFrame,
    features: list[str],
    config: RankerConfig | None = None,
    label_gain: list[float] | None = None,
    n_partitions: int = 2,
    label_col: str = "label",
    label_config: dict | None = None,
) -> RankerModel:
    """Distributed LightGBM lambdarank (``DaskLGBMRanker``) on a Dask cluster.

    The frame is cut into query-aligned chunks (:func:`query_aligned_chunks`) and turned into Dask
    arrays whose chunks line up with the group array, so no query straddles two partitions.
    For data that does not fit one machine, write the feature Parquet partitioned by query and
    build the same arrays from ``dask.dataframe.read_parquet`` partitions.
    """
    import dask.array as da
    import lightgbm as lgb
    from lightgbm.dask import DaskLGBMRanker

    config = config or RankerConfig()
    frame = sort_by_query(frame)
    qids, sizes = group_sizes(frame["query_id"])
    check_group_limit(qids, sizes, config.max_rows_per_query)
    gains = list(label_gain) if label_gain is not None else [float(2**i - 1) for i in range(31)]
    y = _check_labels(frame[label_col].to_numpy(), len(gains))
    X = frame[features].to_numpy(dtype=float)
    rows, groups = query_aligned_chunks(sizes, n_partitions)
    dX = da.from_array(X, chunks=(rows, X.shape[1]))
    dy = da.from_array(y, chunks=(rows,))
    dg = da.from_array(sizes, chunks=(groups,))
    params = _lgbm_params(config, gains)
    params.pop("n_jobs")  # Dask decides the threads of each worker
    model = DaskLGBMRanker(client=client, **params)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Parameter n_jobs will be ignored")
        model.fit(dX, dy, group=dg, feature_name=list(features))
    local = model.to_local()
    meta = {
        "ecomrel_version": __version__,
        "engine_version": lgb.__version__,
        "n_rows": len(frame),
        "n_queries": len(qids),
        "label_gain": gains,
        "label_config": label_config,
        "ranker_config": config.model_dump(),
        "distributed": {"backend": "dask", "partitions": len(rows)},
    }
    return RankerModel("lightgbm", list(features), local.booster_, meta)


def train_from_folders(
    data_dir: str | Path,
    features_dir: str | Path,
    out_dir: str | Path,
    config: Any = None,
    split: str = "train",
) -> dict:
    """Stage entry point: labels (from ``config.labels``) + features of one split → saved model.

    Only the engagement log of the training split's queries feeds the labels.
    """
    from ecomrel.data.schema import Dataset
    from ecomrel.rank.features import read_features
    from ecomrel.rank.labels import label_gain, make_labels
    from ecomrel.rank.rank_config import RankConfig

    config = config or RankConfig()
    ds = Dataset.load(data_dir)
    frame, names = read_features(features_dir)
    queries = ds.split_queries(split) if ds.splits is not None else set(frame["query_id"])
    rows = frame[frame["query_id"].isin(queries)].reset_index(drop=True)
    if rows.empty:
        raise DataError(f"{features_dir}: no feature rows for split {split!r}")
    dropped = 0
    lc = config.labels
    if lc.blend.rule != "engagement_only":
        col = "expected_grade" if lc.content_source == "judge" else "grade"
        if col not in rows.columns:
            raise DataError(
                f"{features_dir}: content labels need column {col!r} (features built with a judge?)"
            )
        keep = rows[col].notna()
        dropped = int((~keep).sum())
        rows = rows[keep].reset_index(drop=True)
        if rows.empty:  # say which split and column are missing, not "no rows to rank"
            raise DataError(
                f"{features_dir}: none of the {dropped:,} rows of split {split!r} has {col!r}: the "
                f"{'judge scores' if col == 'expected_grade' else 'judgments'} the features were built "
                f"from cover other splits only (score split {split!r}, e.g. `ecomrel judge --split {split}`)"
            )
    eng = None if ds.engagement is None else ds.engagement[ds.engagement["query_id"].isin(queries)]
    labels = make_labels(rows, eng, lc)
    model = train_ranker(
        rows.assign(label=labels["label"].to_numpy()),
        names,
        config.ranker,
        label_gain(lc.blend),
        label_config=lc.model_dump(),
    )
    model.metadata["train_split"] = split
    paths = model.save(out_dir)
    grades = np.bincount(labels["label"].to_numpy(), minlength=lc.blend.n_grades()).tolist()
    return {
        **paths,
        "n_rows": len(rows),
        "n_rows_without_content_score": dropped,
        "n_queries": int(rows["query_id"].nunique()),
        "label": lc.name(),
        "label_counts": grades,
    }


def predict_to_file(
    model_dir: str | Path, features_dir: str | Path, out: str | Path, split: str | None = None
) -> dict:
    """Score a feature folder with a saved ranker into a prediction file.

    ``pred_grade`` is the judge's rounded expected grade when the features carry it (a ranker
    score is not a grade), else 0.
    """
    from ecomrel.rank.features import read_features

    model = RankerModel.load(model_dir)
    frame, _ = read_features(features_dir)
    if split is not None:
        frame = frame[frame["split"] == split].reset_index(drop=True)
        if frame.empty:
            raise DataError(f"{features_dir}: no rows in split {split!r}")
    pred = frame[["query_id", "product_id"]].assign(score=model.predict(frame))
    if "expected_grade" in frame.columns:
        pred["pred_grade"] = np.rint(frame["expected_grade"].fillna(0)).astype(int)
    else:
        pred["pred_grade"] = 0
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    pred.to_parquet(out, index=False)
    return {"predictions": str(out), "n_rows": len(pred), "model": str(model_dir)}
