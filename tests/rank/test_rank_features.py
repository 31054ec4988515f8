"""The feature Parquet: lexical through the baseline API, judge/student joins, leakage-free engagement."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from ecomrel.data.schema import DataError, Dataset
from ecomrel.rank.features import build_features, read_features, read_prediction_file, run_features
from ecomrel.rank.rank_config import FeatureConfig


def _stub(method: str, pairs: pd.DataFrame) -> np.ndarray:
    return np.array(
        [len(set(q.split()) & set(t.split())) for q, t in zip(pairs["query"], pairs["title"], strict=True)],
        dtype=float,
    )


@pytest.fixture
def lexical(monkeypatch):
    try:
        import ecomrel.baselines.lexical  # noqa: F401
    except ImportError:  # the shared lexical module is written in parallel; stub it only here
        monkeypatch.setattr("ecomrel.rank.features._score_pairs", _stub)


def tiny() -> Dataset:
    products = pd.DataFrame(
        {
            "product_id": ["k1", "k2", "t1", "t2"],
            "title": ["acme electric kettle", "steel kettle", "bath towel", "acme towel set"],
            "brand": ["acme", "zeta", "nova", "acme"],
            "category": [
                "Home > Kitchen > Kettles",
                "Home > Kitchen > Kettles",
                "Home > Bath > Towels",
                "Home > Bath > Towels",
            ],
            "description": "",
            "price": [30.0, 10.0, 5.0, 20.0],
        }
    )
    products["attributes"] = [{} for _ in range(4)]
    queries = pd.DataFrame(
        {
            "query_id": ["q1", "q2", "q3"],
            "text": ["acme kettle", "towel", "kettle"],
            "frequency": 1,
            "kind": "bare",
        }
    )
    judgments = pd.DataFrame(
        {
            "query_id": ["q1", "q1", "q1", "q2", "q2", "q3", "q3"],
            "product_id": ["k1", "k2", "t1", "t1", "t2", "k1", "k2"],
            "grade": [3, 2, 0, 3, 3, 3, 3],
            "source_label": "x",
            "raw_score": 0.0,
            "rater_count": 1,
        }
    )
    engagement = judgments[["query_id", "product_id"]].assign(
        impressions=100, clicks=10, add_to_carts=[5, 1, 0, 7, 2, 9, 3], orders=1, position=1.0
    )
    splits = pd.DataFrame({"query_id": ["q1", "q2", "q3"], "split": ["train", "train", "test"]})
    return Dataset(products, queries, judgments, engagement, splits)


def _judge(ds: Dataset) -> pd.DataFrame:
    j = ds.judgments[["query_id", "product_id"]].copy()
    p = np.tile([0.1, 0.2, 0.3, 0.4], (len(j), 1))
    for g in range(4):
        j[f"p_{g}"] = p[:, g]
    j["score"] = j["expected_grade"] = p @ np.arange(4)
    j["pred_grade"] = 3
    return j


def test_build_features_groups_and_keys(lexical):
    ds = tiny()
    student = ds.judgments[["query_id", "product_id"]].assign(score=0.5, pred_grade=1)
    frame, names = build_features(ds, _judge(ds), student)
    assert not frame.duplicated(["query_id", "product_id"]).any() and len(frame) == 7
    for f in (
        "bm25",
        "tfidf",
        "expected_grade",
        "p_0",
        "p_3",
        "student_score",
        "prod_atc_rate",
        "pop_orders",
        "price",
        "price_rel_median",
        "cat_query_overlap",
        "brand_in_query",
        "cat_share_top_bm25",
    ):
        assert f in names, f
    assert "grade" not in names and "split" in frame.columns
    row = frame.set_index(["query_id", "product_id"]).loc[("q1", "k1")]
    assert row["brand_in_query"] == 1.0 and row["price_rel_median"] == pytest.approx(30 / 10)
    assert row["expected_grade"] == pytest.approx(2.0)


def test_engagement_features_ignore_held_out_logs(lexical):
    ds = tiny()
    a, _ = build_features(ds, None, None, FeatureConfig(judge=False))
    ds.engagement.loc[ds.engagement["query_id"] == "q3", "add_to_carts"] = 100  # the test query's own log
    b, names = build_features(ds, None, None, FeatureConfig(judge=False))
    cols = [n for n in names if n.startswith(("prod_", "pop_"))]
    pd.testing.assert_frame_equal(a[cols], b[cols])
    leaky, lnames = build_features(ds, None, None, FeatureConfig(engagement="pair"))
    assert "pair_atc_rate" in lnames


def test_run_features_writes_parquet_and_list(tmp_path, lexical):
    ds = tiny()
    ds.save(tmp_path / "data")
    _judge(ds).to_parquet(tmp_path / "scores.parquet", index=False)
    res = run_features(tmp_path / "data", tmp_path / "scores.parquet", tmp_path / "feat")
    meta = json.loads((tmp_path / "feat" / "features.json").read_text())
    assert meta["key"] == ["query_id", "product_id"] and res["n_features"] == len(meta["features"])
    frame, names = read_features(tmp_path / "feat")
    assert names == meta["features"] and len(frame) == 7


def test_prediction_file_errors(tmp_path):
    pd.DataFrame({"query_id": ["a"], "product_id": ["x"]}).to_parquet(tmp_path / "bad.parquet")
    with pytest.raises(DataError, match="score"):
        read_prediction_file(tmp_path / "bad.parquet", "judge")
    pd.DataFrame({"query_id": ["a", "a"], "product_id": ["x", "x"], "score": [1.0, 2.0]}).to_parquet(
        tmp_path / "dup.parquet"
    )
    with pytest.raises(DataError, match="row 1: duplicate pair"):
        read_prediction_file(tmp_path / "dup.parquet", "judge")
