"""Ranking metrics: NDCG@k and MRR through ranx, engagement@k from the engagement log.

Metric names (strings, ranx style)
    ``ndcg@k`` / ``ndcg`` — NDCG at k (or over the whole list) with the configured gains;
    ``mrr`` / ``mrr@k`` — reciprocal rank of the first product with grade ≥ ``mrr_threshold``;
    ``engagement@k`` — add-to-cart *rate* of the top k: mean over the top-k products of
    ``add_to_carts / impressions`` (0 where a product has no impressions or no engagement row),
    averaged over queries that appear in the engagement table (Walmart's ATC@k idea);
    ``atc_share@k`` — share of the top-k products with at least one add-to-cart, same averaging.
    A query with fewer than k ranked products is averaged over the products it has.

NDCG formula. ranx's ``ndcg`` is its ``jarvelin=True`` variant: ``DCG@k = Σ_i gain_i / log2(i + 1)``
with the judged value used *linearly* as the gain (not Burges' ``2^rel − 1``, which is ranx's
``ndcg_burges``); IDCG is the same sum over the judged products sorted by gain; NDCG = DCG/IDCG.
ranx stores qrels as int64, so fractional gains (ESCI's 0.1/0.01, Home Depot's ``raw − 1``) are
passed as ``round(gain · 10⁶)``: a linear gain makes NDCG invariant to that scale, so the only
effect is a rounding error below 10⁻⁶. Products in the run without a judgment have gain 0;
judged products missing from the run still count in IDCG. Queries whose judged gains are all 0
(and, for MRR, queries with no relevant product) have an undefined ideal and are left out of the
mean, not counted as 0.

Which queries (``ndcg_queries``). ``"all"`` (the default) averages NDCG over every query with a
positive ideal; ``"graded"`` only over *graded* queries: those whose judged products do not all
share one grade (of the grade column the metric is computed against). A query whose products are
all "exact" scores NDCG = 1 under any ranking, so it measures nothing and lifts the mean (on Home
Depot by about 0.015); "graded" leaves such queries out. It applies to NDCG only (MRR and the
engagement metrics are unchanged).

Gains. ``"grade"`` uses the grade linearly; ``"source"`` the source's own label: ``raw_score −
lo`` where ``lo`` is the lowest value of the source's raw scale (``raw_low``; Home Depot's rater
mean 1–3 gives gains 0–2, the same as ``"raw-1"``), so the lowest label has gain 0.

Ties. ranx orders a run by score with an unstable sort, so equal scores would be ordered
arbitrarily. :func:`rank_run` breaks ties by ``product_id`` (ascending string order) and hands
ranx the resulting strictly decreasing rank, so every metric here sees one deterministic order.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ecomrel.errors import ConfigError, DataError

GAIN_SCALE = 1_000_000
"""Fractional gains are sent to ranx as ``round(gain · GAIN_SCALE)`` (ranx qrels are integers)."""

ESCI_GAINS: Mapping[int, float] = {3: 1.0, 2: 0.1, 1: 0.01, 0: 0.0}
"""The Amazon ESCI challenge's gains: Exact 1.0, Substitute 0.1, Complement 0.01, Irrelevant 0."""

GAIN_PRESETS: dict[str, str] = {
    "grade": "gain = grade (0..3), linear",
    "esci": "ESCI gains {3: 1.0, 2: 0.1, 1: 0.01, 0: 0}",
    "raw-1": "gain = raw_score − 1 (Home Depot: 0..2)",
    "source": "gain = raw_score − the raw scale's lowest value (the source label; Home Depot: 0..2)",
}
NDCG_QUERIES: dict[str, str] = {
    "all": "NDCG averaged over every query with a positive ideal DCG",
    "graded": "NDCG averaged over graded queries only: those whose judged products do not all share "
    "one grade",
}
Gains = str | Mapping[int, float]

_METRIC = re.compile(r"^(ndcg|mrr|engagement|atc_share)(?:@(\d+))?$")


def parse_metric(name: str) -> tuple[str, int]:
    """``"ndcg@10"`` → ``("ndcg", 10)``; ``k = 0`` means the whole list."""
    m = _METRIC.match(name)
    if m is None:
        raise ConfigError(
            f"unknown ranking metric {name!r}; use ndcg@k, ndcg, mrr, mrr@k, engagement@k, atc_share@k"
        )
    base, k = m.group(1), int(m.group(2) or 0)
    if base in ("engagement", "atc_share") and k == 0:
        raise ConfigError(f"{name!r} needs a cut-off, e.g. {base}@10")
    return base, k


def is_ranking_metric(name: str) -> bool:
    return _METRIC.match(name) is not None


def gain_values(
    judged: pd.DataFrame, gains: Gains = "grade", grade_col: str = "grade", raw_low: float = 1.0
) -> np.ndarray:
    """The gain of every judged row: a preset name (see :data:`GAIN_PRESETS`) or a grade → gain map.

    ``raw_low`` is the lowest value of the source's raw scale (gains ``"source"``)."""
    if isinstance(gains, str):
        if gains == "grade":
            return judged[grade_col].to_numpy(dtype=float)
        if gains == "esci":
            gains = ESCI_GAINS
        elif gains in ("raw-1", "source"):
            if "raw_score" not in judged.columns or judged["raw_score"].isna().all():
                raise DataError(
                    f"gains {gains!r} need the source label as a number (judgments.raw_score); "
                    "this data has none: use gains 'grade'"
                )
            low = 1.0 if gains == "raw-1" else float(raw_low)
            raw = judged["raw_score"].to_numpy(dtype=float)
            return np.clip(np.nan_to_num(raw - low, nan=0.0), 0.0, None)
        else:
            raise ConfigError(
                f"unknown gains {gains!r}; presets: {', '.join(GAIN_PRESETS)} (or a grade→gain map)"
            )
    table = {int(k): float(v) for k, v in gains.items()}
    grades = judged[grade_col].to_numpy(dtype=int)
    missing = sorted(set(grades.tolist()) - table.keys())
    if missing:
        raise ConfigError(f"gain map has no entry for grade(s) {missing}")
    return np.array([table[g] for g in grades], dtype=float)


def graded_queries(judged: pd.DataFrame, grade_col: str = "grade") -> set[str]:
    """Query ids whose judged products do not all share one grade (see ``ndcg_queries``)."""
    if judged.empty:
        return set()
    n = judged.groupby(judged["query_id"].astype(str))[grade_col].nunique(dropna=True)
    return set(n.index[n > 1])


def check_ndcg_queries(value: str) -> str:
    if value not in NDCG_QUERIES:
        raise ConfigError(f"ndcg_queries {value!r}: use one of {', '.join(NDCG_QUERIES)}")
    return value


def rank_run(run: pd.DataFrame) -> pd.DataFrame:
    """Add a 1-based ``rank`` per query: score descending, ties broken by ``product_id`` ascending."""
    ranked = run.sort_values(
        ["query_id", "score", "product_id"], ascending=[True, False, True], kind="stable"
    ).reset_index(drop=True)
    ranked["rank"] = ranked.groupby("query_id", sort=False).cumcount() + 1
    return ranked


def _to_ranx(qrels: pd.DataFrame, ranked: pd.DataFrame, names: list[str]) -> dict[str, float]:
    """Mean of ranx metrics over the queries of ``qrels`` (columns query_id, product_id, value > 0)."""
    if qrels.empty:
        return {n: float("nan") for n in names}
    from numba.core.errors import NumbaTypeSafetyWarning
    from ranx import Qrels, Run, evaluate

    qd: dict[str, dict[str, int]] = {}
    for q, grp in qrels.groupby("query_id", sort=False):
        qd[str(q)] = dict(zip(grp["product_id"].astype(str), grp["value"].astype(int).tolist(), strict=True))
    rd: dict[str, dict[str, float]] = {}
    sub = ranked[ranked["query_id"].isin(qd.keys())]
    for q, grp in sub.groupby("query_id", sort=False):
        rd[str(q)] = dict(
            zip(grp["product_id"].astype(str), (-grp["rank"].astype(float)).tolist(), strict=True)
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NumbaTypeSafetyWarning)
        res = evaluate(
            Qrels.from_dict(qd), Run.from_dict(rd), names, return_mean=False, threads=1, make_comparable=True
        )
    if len(names) == 1:
        res = {names[0]: res}
    return {n: float(np.mean(res[n])) for n in names}


def _engagement(ranked: pd.DataFrame, engagement: pd.DataFrame, base: str, k: int) -> float:
    eng = engagement[["query_id", "product_id", "impressions", "add_to_carts"]]
    eng = eng.groupby(["query_id", "product_id"], as_index=False).sum()
    top = ranked[(ranked["rank"] <= k) & ranked["query_id"].isin(set(eng["query_id"]))]
    if top.empty:
        return float("nan")
    top = top.merge(eng, on=["query_id", "product_id"], how="left")
    imp = top["impressions"].fillna(0).to_numpy(dtype=float)
    atc = top["add_to_carts"].fillna(0).to_numpy(dtype=float)
    if base == "engagement":
        value = np.divide(atc, imp, out=np.zeros_like(atc), where=imp > 0)
    else:
        value = (atc >= 1).astype(float)
    per_query = pd.Series(value).groupby(top["query_id"].to_numpy()).mean()
    return float(per_query.mean())


def ranking_metrics(
    judged: pd.DataFrame,
    run: pd.DataFrame,
    metrics: Sequence[str] = ("ndcg@10", "mrr"),
    *,
    gains: Gains = "grade",
    grade_col: str = "grade",
    mrr_threshold: int = 2,
    engagement: pd.DataFrame | None = None,
    ndcg_queries: str = "all",
    raw_low: float = 1.0,
) -> dict[str, float]:
    """Ranking metrics of ``run`` (query_id, product_id, score) against ``judged`` pairs.

    ``judged`` has query_id, product_id, ``grade_col`` (and raw_score for gains ``"raw-1"`` /
    ``"source"``). Only queries that have judgments are ranked; run rows without a judgment get
    gain 0. ``ndcg_queries`` (``"all"`` | ``"graded"``) and ``raw_low`` are defined in the module
    docstring.
    """
    check_ndcg_queries(ndcg_queries)
    parsed = [(m, *parse_metric(m)) for m in metrics]
    ranked = rank_run(run[run["query_id"].isin(set(judged["query_id"]))][["query_id", "product_id", "score"]])
    out: dict[str, float] = {}

    ndcg_names = [m for m, base, _ in parsed if base == "ndcg"]
    if ndcg_names:
        q = judged[["query_id", "product_id"]].copy()
        q["value"] = np.rint(gain_values(judged, gains, grade_col, raw_low) * GAIN_SCALE).astype(np.int64)
        q = q[q["value"] > 0]
        if ndcg_queries == "graded":
            q = q[q["query_id"].astype(str).isin(graded_queries(judged, grade_col))]
        out.update(_to_ranx(q, ranked, ndcg_names))

    for m, base, k in parsed:
        if base == "mrr":
            # ranx's reciprocal rank ignores k, so the cut-off is applied to the run here.
            q = judged.loc[judged[grade_col] >= mrr_threshold, ["query_id", "product_id"]].copy()
            q["value"] = 1
            top = ranked if k == 0 else ranked[ranked["rank"] <= k]
            out[m] = _to_ranx(q, top, ["mrr"])["mrr"]

    for m, base, k in parsed:
        if base in ("engagement", "atc_share"):
            if engagement is None or engagement.empty:
                raise DataError(f"{m} needs an engagement table")
            out[m] = _engagement(ranked, engagement, base, k)
    return {m: out[m] for m in metrics}


def ndcg_at_k(
    query_ids: Sequence[str] | np.ndarray,
    scores: Sequence[float] | np.ndarray,
    gains: Sequence[float] | np.ndarray,
    k: int = 10,
) -> float:
    """Mean NDCG@k of parallel arrays (one row per judged pair), through ranx like :func:`ranking_metrics`.

    Each row is one (query, product) pair with its model ``score`` and its judged ``gain`` (e.g. the
    grade). Same formula, same skipping of all-zero queries and a deterministic tie rule: equal
    scores keep the arrays' order (row ``i`` before row ``j > i``), as a stable sort would. ``k = 0``
    means the whole list. NaN when no query has a positive gain. This is the function trainers call
    instead of a hand-written NDCG.
    """
    q = np.asarray(query_ids).astype(str)
    s = np.asarray(scores, dtype=float)
    g = np.asarray(gains, dtype=float)
    if not (len(q) == len(s) == len(g)):
        raise ValueError(f"query_ids, scores and gains differ in length ({len(q)}, {len(s)}, {len(g)})")
    if len(q) == 0:
        return float("nan")
    width = len(str(len(q)))
    pid = np.array([str(i).zfill(width) for i in range(len(q))])  # ascending id = array order
    run = pd.DataFrame({"query_id": q, "product_id": pid, "score": s})
    name = f"ndcg@{k}" if k else "ndcg"
    qrels = pd.DataFrame({"query_id": q, "product_id": pid})
    qrels["value"] = np.rint(np.clip(g, 0, None) * GAIN_SCALE).astype(np.int64)
    return _to_ranx(qrels[qrels["value"] > 0], rank_run(run), [name])[name]
