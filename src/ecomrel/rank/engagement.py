"""Engagement-based relevance from logs: Bayesian-average rates of clicks, add-to-carts and orders.

A raw rate lies: one impression and one click is a "perfect" 100% CTR. The Bayesian average
``(events + m·prior) / (impressions + m)`` pulls rates with little evidence towards a prior —
the global rate of the log, or the rate of the pair's own query — with ``m`` pseudo-impressions
of strength. Used for the engagement *label* (Walmart's engagement-based relevance), for
leakage-free engagement *features* (product-level, leave-query-out) and for engagement@k.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ecomrel.data.schema import DataError
from ecomrel.rank.rank_config import EngagementConfig

KEY = ["query_id", "product_id"]
EVENTS = {"ctr": "clicks", "atc_rate": "add_to_carts", "order_rate": "orders"}
"""Smoothed rate name → event column of the engagement table."""
COUNTS = ["impressions", "clicks", "add_to_carts", "orders"]


def smoothed_rate(events, impressions, prior, strength: float) -> np.ndarray:
    """Bayesian average ``(events + m·prior) / (impressions + m)``; equals ``prior`` with no impressions."""
    events = np.asarray(events, dtype=float)
    impressions = np.asarray(impressions, dtype=float)
    prior = np.broadcast_to(np.asarray(prior, dtype=float), events.shape)
    denom = impressions + strength
    with np.errstate(invalid="ignore", divide="ignore"):
        raw = np.where(denom > 0, (events + strength * prior) / np.where(denom > 0, denom, 1.0), prior)
    return raw


def aggregate_log(engagement: pd.DataFrame) -> pd.DataFrame:
    """One row per (query, product) with summed counts; validates the counts."""
    missing = [c for c in KEY + COUNTS if c not in engagement.columns]
    if missing:
        raise DataError(f"engagement.parquet: missing column(s) {', '.join(missing)}")
    log = engagement[KEY + COUNTS].copy()
    for c in COUNTS:
        log[c] = pd.to_numeric(log[c], errors="coerce").fillna(0).astype(float)
        bad = np.flatnonzero(log[c].to_numpy() < 0)
        if len(bad):
            raise DataError(f"engagement.parquet: row {int(bad[0])}, field {c}: negative count")
    return log.groupby(KEY, as_index=False, sort=False)[COUNTS].sum()


def global_rates(log: pd.DataFrame) -> dict[str, float]:
    imps = float(log["impressions"].sum())
    return {r: (float(log[e].sum()) / imps if imps > 0 else 0.0) for r, e in EVENTS.items()}


def pair_rates(
    pairs: pd.DataFrame, engagement: pd.DataFrame | None, config: EngagementConfig
) -> pd.DataFrame:
    """Smoothed CTR / ATC / order rates of each pair in ``pairs`` (pairs absent from the log get the prior).

    Returns a frame aligned with ``pairs`` (same index) with ``impressions``, ``ctr``, ``atc_rate``,
    ``order_rate``.
    """
    keyed = pairs[KEY].copy()
    if engagement is None or len(engagement) == 0:
        out = pd.DataFrame(index=pairs.index)
        out["impressions"] = 0.0
        for r in EVENTS:
            out[r] = 0.0
        return out
    log = aggregate_log(engagement)
    glob = global_rates(log)
    m = config.prior_strength
    merged = keyed.merge(log, on=KEY, how="left")
    merged[COUNTS] = merged[COUNTS].fillna(0.0)
    if config.prior == "query":
        q = log.groupby("query_id")[COUNTS].sum()
        qprior = {
            r: pd.Series(smoothed_rate(q[e], q["impressions"], glob[r], m), index=q.index)
            for r, e in EVENTS.items()
        }
    out = pd.DataFrame(index=pairs.index)
    out["impressions"] = merged["impressions"].to_numpy()
    for r, e in EVENTS.items():
        if config.prior == "query":
            prior = merged["query_id"].map(qprior[r]).fillna(glob[r]).to_numpy()
        else:
            prior = glob[r]
        out[r] = smoothed_rate(merged[e], merged["impressions"], prior, m)
    return out


def engagement_score(rates: pd.DataFrame, config: EngagementConfig) -> np.ndarray:
    """Weighted sum of the smoothed rates: one engagement value per pair (not yet normalised)."""
    return (
        config.click_weight * rates["ctr"].to_numpy()
        + config.add_to_cart_weight * rates["atc_rate"].to_numpy()
        + config.order_weight * rates["order_rate"].to_numpy()
    )


def engagement_labels(
    pairs: pd.DataFrame, engagement: pd.DataFrame | None, config: EngagementConfig
) -> np.ndarray:
    """Engagement label e ∈ [0, 1] per pair: weighted smoothed rates, normalised per ``config.normalise``."""
    value = pd.Series(engagement_score(pair_rates(pairs, engagement, config), config), index=pairs.index)
    if config.normalise == "query_rank":
        return value.groupby(pairs["query_id"]).rank(pct=True, method="average").fillna(0).to_numpy()
    if config.normalise == "query_max":
        top = value.groupby(pairs["query_id"]).transform("max")
    else:
        top = pd.Series(float(np.quantile(value, 0.99)) if len(value) else 0.0, index=pairs.index)
    with np.errstate(invalid="ignore", divide="ignore"):
        e = np.where(top.to_numpy() > 0, value.to_numpy() / top.to_numpy(), 0.0)
    return np.clip(e, 0.0, 1.0)


def product_log_stats(
    pairs: pd.DataFrame, engagement: pd.DataFrame | None, log_queries: set[str] | None, strength: float
) -> pd.DataFrame:
    """Leave-query-out product-level engagement: features that never read a held-out query's log.

    For each row (q, p): the product's counts summed over the *log queries* (the training queries),
    minus the row's own query when it is one of them, then smoothed to the log's global rate.
    Training rows and held-out rows therefore see features of the same kind, and no row sees its
    own pair's engagement (which is, or is close to, its label). In production these would be
    historical logs from before the ranking period, which are legitimate ranking features.
    """
    out = pd.DataFrame(index=pairs.index)
    names = [
        "prod_ctr",
        "prod_atc_rate",
        "prod_order_rate",
        "pop_impressions",
        "pop_clicks",
        "pop_add_to_carts",
        "pop_orders",
    ]
    if engagement is None or len(engagement) == 0:
        for n in names:
            out[n] = 0.0
        return out
    log = aggregate_log(engagement)
    if log_queries is not None:
        log = log[log["query_id"].isin(log_queries)]
    glob = global_rates(log)
    totals = log.groupby("product_id")[COUNTS].sum()
    keyed = pairs[KEY].reset_index(drop=True)
    tot = keyed[["product_id"]].merge(totals, left_on="product_id", right_index=True, how="left")[COUNTS]
    own = keyed.merge(log, on=KEY, how="left")[COUNTS]
    loo = (tot.fillna(0.0) - own.fillna(0.0)).clip(lower=0.0).to_numpy()
    loo = pd.DataFrame(loo, columns=COUNTS)
    for r, e in EVENTS.items():
        out["prod_" + r] = smoothed_rate(loo[e], loo["impressions"], glob[r], strength)
    for c in COUNTS:
        out["pop_" + c] = np.log1p(loo[c].to_numpy())
    return out[names]
