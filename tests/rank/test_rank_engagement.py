"""Bayesian-average engagement rates and leakage-free product-level statistics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ecomrel.rank.engagement import engagement_labels, pair_rates, product_log_stats, smoothed_rate
from ecomrel.rank.rank_config import EngagementConfig


def test_one_impression_one_click_is_not_perfect():
    r = smoothed_rate([1], [1], prior=0.05, strength=20)[0]
    assert r == pytest.approx((1 + 20 * 0.05) / 21)
    assert r < 0.1
    # lots of evidence wins over the prior
    assert smoothed_rate([500], [1000], 0.05, 20)[0] == pytest.approx(0.5, abs=0.01)
    # no impressions: the prior
    assert smoothed_rate([0], [0], 0.05, 20)[0] == pytest.approx(0.05)


def _log():
    return pd.DataFrame(
        {
            "query_id": ["a", "a", "a", "b", "b"],
            "product_id": ["x", "y", "z", "x", "w"],
            "impressions": [1, 1000, 1000, 100, 100],
            "clicks": [1, 150, 10, 10, 10],
            "add_to_carts": [1, 50, 5, 5, 5],
            "orders": [0, 20, 1, 1, 1],
            "position": [1.0] * 5,
        }
    )


@pytest.mark.parametrize("prior", ["global", "query"])
def test_pair_rates_and_labels(prior):
    pairs = pd.DataFrame({"query_id": ["a", "a", "a", "a"], "product_id": ["x", "y", "z", "never"]})
    cfg = EngagementConfig(prior=prior, prior_strength=20)
    rates = pair_rates(pairs, _log(), cfg)
    assert rates.loc[0, "ctr"] < rates.loc[1, "ctr"]  # 1/1 clicks is below 150/1000 after smoothing
    assert rates.loc[3, "impressions"] == 0
    e = engagement_labels(pairs, _log(), cfg)
    assert e.max() == pytest.approx(1.0) and np.argmax(e) == 1 and (e >= 0).all()


def test_query_rank_normalisation():
    pairs = pd.DataFrame({"query_id": ["a", "a", "a"], "product_id": ["x", "y", "z"]})
    e = engagement_labels(pairs, _log(), EngagementConfig(normalise="query_rank"))
    assert sorted(e.tolist()) == pytest.approx([1 / 3, 2 / 3, 1.0])


def test_product_stats_leave_the_rows_query_out():
    pairs = pd.DataFrame({"query_id": ["a", "b", "c"], "product_id": ["x", "x", "x"]})
    st = product_log_stats(pairs, _log(), log_queries={"a", "b"}, strength=0)
    # row (a, x) sees only b's log for x (100 imps, 5 atc); row (b, x) only a's (1 imp, 1 atc);
    # held-out query c sees both train queries.
    assert st.loc[0, "prod_atc_rate"] == pytest.approx(0.05)
    assert st.loc[1, "prod_atc_rate"] == pytest.approx(1.0)
    assert st.loc[2, "prod_atc_rate"] == pytest.approx(6 / 101)
    assert st.loc[2, "pop_impressions"] == pytest.approx(np.log1p(101))


def test_held_out_logs_never_used():
    log = _log()
    pairs = pd.DataFrame({"query_id": ["b"], "product_id": ["w"]})
    st = product_log_stats(pairs, log, log_queries={"a"}, strength=10)
    log2 = log.copy()
    log2.loc[log2["query_id"] == "b", "add_to_carts"] = 99  # change the held-out query's own log
    st2 = product_log_stats(pairs, log2, log_queries={"a"}, strength=10)
    pd.testing.assert_frame_equal(st, st2)
