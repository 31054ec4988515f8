"""Query groups, the per-query limit, text/JSON model files, XGBoost and the Dask ranker."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ecomrel.data.schema import DataError
from ecomrel.rank.rank_config import RankerConfig
from ecomrel.rank.ranker import (
    RankerModel,
    check_group_limit,
    group_sizes,
    query_aligned_chunks,
    sort_by_query,
    train_ranker,
)

FEATS = ["f0", "f1", "noise"]
SMALL = RankerConfig(n_estimators=15, num_leaves=7, min_child_samples=3)


def frame(n_queries: int = 20, per_query: int = 8, seed: int = 0) -> pd.DataFrame:
    """Interleaved (unsorted) rows whose label is driven by f0."""
    rng = np.random.default_rng(seed)
    n = n_queries * per_query
    df = pd.DataFrame(
        {
            "query_id": [f"q{i % n_queries:02d}" for i in range(n)],
            "product_id": [f"p{i}" for i in range(n)],
            "f0": rng.uniform(0, 1, n),
            "f1": rng.uniform(0, 1, n),
            "noise": rng.normal(size=n),
        }
    )
    df["label"] = np.clip((df["f0"] * 4).astype(int), 0, 3)
    return df


def _ndcg_like(df: pd.DataFrame, scores: np.ndarray) -> float:
    """Share of queries whose top-scored row has the query's best label."""
    d = df.assign(s=scores)
    top = d.loc[d.groupby("query_id")["s"].idxmax()]
    best = d.groupby("query_id")["label"].max()
    return float((top.set_index("query_id")["label"] == best).mean())


def test_groups_sorted_and_derived():
    df = sort_by_query(frame())
    ids, sizes = group_sizes(df["query_id"])
    assert sizes.sum() == len(df) and len(ids) == 20 and (sizes == 8).all()
    with pytest.raises(DataError, match="not contiguous"):
        group_sizes(np.array(["a", "b", "a"]))


def test_group_limit_names_the_query():
    with pytest.raises(DataError, match=r"query 'big' has 11 rows.*limit of 10"):
        check_group_limit(np.array(["ok", "big"]), np.array([3, 11]), 10)
    df = frame(n_queries=2, per_query=6)
    with pytest.raises(DataError, match="above the per-query limit of 5"):
        train_ranker(df, FEATS, RankerConfig(max_rows_per_query=5, n_estimators=2))


def test_non_integer_labels_refused():
    df = frame().assign(label=0.5)
    with pytest.raises(DataError, match="integers"):
        train_ranker(df, FEATS, SMALL, [0.0, 1.0, 3.0, 7.0])


@pytest.mark.parametrize("engine", ["lightgbm", "xgboost"])
def test_train_save_load_roundtrip(tmp_path, engine):
    if engine == "xgboost":
        pytest.importorskip("xgboost")
    df = frame()
    cfg = SMALL.model_copy(update={"engine": engine})
    model = train_ranker(df, FEATS, cfg, [0.0, 1.0, 3.0, 7.0], label_config={"rule": "test"})
    scores = model.predict(df)
    assert _ndcg_like(df, scores) > 0.7
    paths = model.save(tmp_path / engine)
    text = Path(paths["model"]).read_text()
    assert text.startswith("tree") if engine == "lightgbm" else json.loads(text)
    meta = json.loads(Path(paths["metadata"]).read_text())
    assert meta["features"] == FEATS and meta["label_config"] == {"rule": "test"} and meta["engine"] == engine
    again = RankerModel.load(tmp_path / engine)
    np.testing.assert_allclose(again.predict(df), scores, rtol=1e-5, atol=1e-6)
    assert not list(tmp_path.rglob("*.pkl"))


def test_query_aligned_chunks():
    rows, groups = query_aligned_chunks(np.array([5, 1, 1, 5, 2, 2]), 3)
    assert sum(rows) == 16 and sum(groups) == 6 and len(rows) <= 3
    assert query_aligned_chunks(np.array([4]), 3) == ((4,), (1,))


def test_dask_ranker_on_local_cluster():
    pytest.importorskip("dask")
    pytest.importorskip("distributed")
    from distributed import Client, LocalCluster

    from ecomrel.rank.ranker import train_ranker_dask

    df = frame(n_queries=12, per_query=6)
    with (
        LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):
        model = train_ranker_dask(
            client,
            df,
            FEATS,
            SMALL.model_copy(update={"n_estimators": 5}),
            [0.0, 1.0, 3.0, 7.0],
            n_partitions=3,
        )
    assert model.metadata["distributed"]["partitions"] == 3
    assert _ndcg_like(df, model.predict(df)) > 0.5
