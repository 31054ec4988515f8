"""Ranking metrics through ranx, checked against hand computations (ties, unjudged products)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ecomrel.eval import rank_run, ranking_metrics
from ecomrel.eval.ranking import parse_metric

JUDGED = pd.DataFrame(
    {
        "query_id": ["q1"] * 4 + ["q2"] * 2,
        "product_id": ["a", "b", "c", "d", "a", "e"],
        "grade": [3, 2, 0, 1, 0, 0],
        "raw_score": [3.0, 2.33, 1.0, 1.67, 1.0, 1.0],
    }
)
# b and x tie at 0.9 (x is unjudged); d is judged but missing from the run; q2 has no relevant product.
RUN = pd.DataFrame(
    {
        "query_id": ["q1"] * 4 + ["q2"],
        "product_id": ["a", "x", "b", "c", "a"],
        "score": [0.5, 0.9, 0.9, 0.1, 1.0],
    }
)


def _dcg(gains):
    return sum(g / math.log2(i + 2) for i, g in enumerate(gains))


def test_ties_broken_by_product_id_and_order_independent_of_row_order():
    ranked = rank_run(RUN)
    assert ranked.loc[ranked["query_id"] == "q1", "product_id"].tolist() == ["b", "x", "a", "c"]
    shuffled = rank_run(RUN.sample(frac=1, random_state=3))
    pd.testing.assert_frame_equal(ranked, shuffled)


def test_ndcg_equals_hand_computation_with_ties_and_unjudged():
    # ranking b(2) x(unjudged → 0) a(3) c(0); ideal a(3) b(2) d(1) c(0)
    hand3 = _dcg([2, 0, 3]) / _dcg([3, 2, 1])
    hand_all = _dcg([2, 0, 3, 0]) / _dcg([3, 2, 1, 0])
    m = ranking_metrics(JUDGED, RUN, ["ndcg@3", "ndcg", "ndcg@1"])
    # q2 has no positive gain: left out of the mean rather than scored 0
    assert m["ndcg@3"] == pytest.approx(hand3, abs=1e-9)
    assert m["ndcg"] == pytest.approx(hand_all, abs=1e-9)
    assert m["ndcg@1"] == pytest.approx(2 / 3)
    assert all(v <= 1.0 for v in m.values())
    # Swapping the tie's winner (rename b → y so it sorts after x) moves the gain down one place.
    run2 = RUN.replace({"product_id": {"b": "y"}})
    judged2 = JUDGED.replace({"product_id": {"b": "y"}})
    expected = _dcg([0, 2, 3]) / _dcg([3, 2, 1])
    assert ranking_metrics(judged2, run2, ["ndcg@3"])["ndcg@3"] == pytest.approx(expected, abs=1e-9)


def test_esci_and_raw_gains():
    esci = ranking_metrics(JUDGED, RUN, ["ndcg@3"], gains="esci")["ndcg@3"]
    assert esci == pytest.approx(_dcg([0.1, 0, 1.0]) / _dcg([1.0, 0.1, 0.01]), abs=1e-6)
    raw = ranking_metrics(JUDGED, RUN, ["ndcg@3"], gains="raw-1")["ndcg@3"]
    assert raw == pytest.approx(_dcg([1.33, 0, 2.0]) / _dcg([2.0, 1.33, 0.67]), abs=1e-6)
    custom = ranking_metrics(JUDGED, RUN, ["ndcg@3"], gains={3: 1, 2: 1, 1: 0, 0: 0})["ndcg@3"]
    assert custom == pytest.approx(_dcg([1, 0, 1]) / _dcg([1, 1]), abs=1e-9)
    with pytest.raises(ValueError, match="no entry for grade"):
        ranking_metrics(JUDGED, RUN, ["ndcg@3"], gains={3: 1.0})
    with pytest.raises(ValueError, match="raw_score"):
        ranking_metrics(JUDGED.drop(columns="raw_score"), RUN, ["ndcg"], gains="raw-1")


def test_mrr_threshold_and_cutoff():
    m = ranking_metrics(JUDGED, RUN, ["mrr", "mrr@1"], mrr_threshold=3)
    assert m["mrr"] == pytest.approx(1 / 3)  # a (grade 3) is third; q2 has no relevant product
    assert m["mrr@1"] == 0.0
    assert ranking_metrics(JUDGED, RUN, ["mrr"], mrr_threshold=2)["mrr"] == pytest.approx(1.0)


def test_engagement_at_k():
    eng = pd.DataFrame(
        {
            "query_id": ["q1", "q1", "q1", "q2"],
            "product_id": ["b", "a", "x", "a"],
            "impressions": [10, 4, 0, 5],
            "add_to_carts": [1, 2, 0, 0],
            "clicks": 0,
            "orders": 0,
        }
    )
    m = ranking_metrics(JUDGED, RUN, ["engagement@2", "engagement@3", "atc_share@3"], engagement=eng)
    # q1 top-2 = b (0.1), x (no impressions → 0); q2 top = a (0/5)
    assert m["engagement@2"] == pytest.approx(((0.1 + 0.0) / 2 + 0.0) / 2)
    assert m["engagement@3"] == pytest.approx(((0.1 + 0.0 + 0.5) / 3 + 0.0) / 2)
    assert m["atc_share@3"] == pytest.approx((2 / 3 + 0.0) / 2)
    with pytest.raises(ValueError, match="engagement table"):
        ranking_metrics(JUDGED, RUN, ["engagement@2"])


def test_metric_names_parse():
    assert parse_metric("ndcg@10") == ("ndcg", 10)
    assert parse_metric("mrr") == ("mrr", 0)
    for bad in ("ndcg@x", "map@10", "engagement"):
        with pytest.raises(ValueError):
            parse_metric(bad)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    grades=st.lists(st.integers(0, 3), min_size=1, max_size=8),
    scores=st.lists(st.sampled_from([0.0, 0.5, 1.0, 2.0]), min_size=1, max_size=12),
    k=st.integers(1, 12),
)
def test_ndcg_is_between_zero_and_one_and_one_for_the_ideal_order(grades, scores, k):
    judged = pd.DataFrame(
        {"query_id": "q", "product_id": [f"p{i:02d}" for i in range(len(grades))], "grade": grades}
    )
    run = pd.DataFrame(
        {"query_id": "q", "product_id": [f"p{i:02d}" for i in range(len(scores))], "score": scores}
    )
    value = ranking_metrics(judged, run, [f"ndcg@{k}"])[f"ndcg@{k}"]
    if max(grades) == 0:
        assert math.isnan(value)
        return
    assert 0.0 <= value <= 1.0 + 1e-12
    ideal = judged.assign(score=np.asarray(grades, dtype=float))[["query_id", "product_id", "score"]]
    assert ranking_metrics(judged, ideal, [f"ndcg@{k}"])[f"ndcg@{k}"] == pytest.approx(1.0)
