"""Ranking features for LambdaMART, one Parquet keyed by (query_id, product_id) plus a feature list.

Groups (each can be switched in :class:`~ecomrel.rank.rank_config.FeatureConfig`):

- lexical: ``bm25``, ``tfidf`` (cosine) from :func:`ecomrel.baselines.lexical.score_pairs`;
- judge (LLM content relevance, Walmart's "LLM-driven content features"): ``expected_grade``, ``p_0..p_K``;
- student: ``student_score`` of the distilled cross-encoder when a prediction file is given;
- engagement (leave-query-out, see :func:`ecomrel.rank.engagement.product_log_stats`): smoothed product
  CTR / add-to-cart / order rates and popularity (log totals); optionally the pair's own rates;
- price: ``price``, ``log_price``, ``price_rel_median`` (÷ the query's candidate median), ``price_pct``;
- category: query-token overlap with the category path and leaf, brand named in the query, and the
  share of the query's top-10 BM25 candidates that sit in the product's leaf category.

Non-feature columns kept beside the features: ``grade`` (human, may be null), ``split``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ecomrel.data.schema import DataError, Dataset
from ecomrel.grades import DEFAULT_SCALE, GradeScale
from ecomrel.rank.engagement import pair_rates, product_log_stats
from ecomrel.rank.rank_config import EngagementConfig, FeatureConfig

KEY = ["query_id", "product_id"]
FEATURES_FILE = "features.parquet"
FEATURE_LIST_FILE = "features.json"
_TOKEN = re.compile(r"[a-z0-9]+")


def _tokens(text: Any) -> set[str]:
    if text is None or (isinstance(text, float) and np.isnan(text)):
        return set()
    return set(_TOKEN.findall(str(text).lower()))


def _score_pairs(method: str, pairs: pd.DataFrame) -> np.ndarray:
    """Lexical scores through the shared baseline API (one implementation of BM25 / TF-IDF)."""
    from ecomrel.baselines.lexical import score_pairs

    return np.asarray(score_pairs(method, pairs), dtype=float)


def read_prediction_file(path: str | Path, what: str) -> pd.DataFrame:
    """Read a prediction file (judge or student) and check its key and score columns."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{what} prediction file not found: {path}")
    df = pd.read_parquet(path)
    missing = [c for c in KEY + ["score"] if c not in df.columns]
    if missing:
        raise DataError(f"{path}: missing column(s) {', '.join(missing)} (prediction file contract)")
    dup = df.duplicated(KEY)
    if dup.any():
        row = int(np.flatnonzero(dup.to_numpy())[0])
        raise DataError(
            f"{path}: row {row}: duplicate pair ({df.iloc[row]['query_id']}, {df.iloc[row]['product_id']})"
        )
    df = df.copy()
    df["query_id"] = df["query_id"].astype(str)
    df["product_id"] = df["product_id"].astype(str)
    return df


def _judge_columns(judge: pd.DataFrame, scale: GradeScale) -> pd.DataFrame:
    probs = [c for c in scale.prob_columns() if c in judge.columns]
    out = judge[KEY].copy()
    if "expected_grade" in judge.columns:
        out["expected_grade"] = judge["expected_grade"].astype(float)
    elif len(probs) == scale.size:
        out["expected_grade"] = sum(k * judge[c].astype(float) for k, c in enumerate(probs))
    else:
        out["expected_grade"] = judge["score"].astype(float)  # contract: judge score = expected grade
    for c in probs:
        out[c] = judge[c].astype(float)
    return out


def candidate_pairs(ds: Dataset, judge: pd.DataFrame | None = None) -> pd.DataFrame:
    """The rows to rank: judged pairs ∪ judge-scored pairs, with query text, product fields, grade, split."""
    j = ds.judgments[KEY + ["grade"]].copy()
    j["query_id"], j["product_id"] = j["query_id"].astype(str), j["product_id"].astype(str)
    j = j.drop_duplicates(KEY)
    if judge is not None:
        extra = judge[KEY].merge(j[KEY], on=KEY, how="left", indicator=True)
        extra = extra[extra["_merge"] == "left_only"][KEY]
        j = pd.concat([j, extra.assign(grade=np.nan)], ignore_index=True)
    q = ds.queries[["query_id", "text"]].rename(columns={"text": "query"})
    q["query_id"] = q["query_id"].astype(str)
    p = ds.products.copy()
    p["product_id"] = p["product_id"].astype(str)
    pairs = j.merge(q, on="query_id", how="left").merge(p, on="product_id", how="left")
    for col, what in (("query", "queries.parquet"), ("title", "products.parquet")):
        miss = pairs[col].isna().to_numpy()
        if miss.any():
            r = int(np.flatnonzero(miss)[0])
            key = pairs.iloc[r]["query_id" if col == "query" else "product_id"]
            raise DataError(f"{what}: no row for id {key!r} used by pair row {r}")
    if ds.splits is not None:
        s = ds.splits[["query_id", "split"]].copy()
        s["query_id"] = s["query_id"].astype(str)
        pairs = pairs.merge(s, on="query_id", how="left")
    else:
        pairs["split"] = None
    return pairs.sort_values(KEY, kind="stable").reset_index(drop=True)


def _category_features(pairs: pd.DataFrame, bm25: np.ndarray | None) -> pd.DataFrame:
    out = pd.DataFrame(index=pairs.index)
    qtok = [_tokens(t) for t in pairs["query"]]
    cat = (
        pairs["category"]
        if "category" in pairs.columns
        else pd.Series([None] * len(pairs), index=pairs.index)
    )
    brand = pairs["brand"] if "brand" in pairs.columns else pd.Series([None] * len(pairs), index=pairs.index)
    leaf = [str(c).split(">")[-1].strip() if isinstance(c, str) and c else "" for c in cat]
    ctok = [_tokens(c) for c in cat]
    ltok = [_tokens(c) for c in leaf]
    btok = [_tokens(b) for b in brand]
    out["cat_query_overlap"] = [len(q & c) / len(q) if q else 0.0 for q, c in zip(qtok, ctok, strict=True)]
    out["leaf_query_overlap"] = [len(q & c) / len(c) if c else 0.0 for q, c in zip(qtok, ltok, strict=True)]
    out["brand_in_query"] = [float(bool(b) and b <= q) for q, b in zip(qtok, btok, strict=True)]
    if bm25 is not None:
        # The query's dominant category among its lexically best candidates: a cheap intent signal.
        tmp = pd.DataFrame({"query_id": pairs["query_id"].to_numpy(), "leaf": leaf, "bm25": bm25})
        tmp["r"] = tmp.groupby("query_id")["bm25"].rank(ascending=False, method="first")
        top = tmp[tmp["r"] <= 10]
        share = top.groupby(["query_id", "leaf"]).size() / top.groupby("query_id").size()
        idx = pd.MultiIndex.from_arrays([tmp["query_id"], tmp["leaf"]])
        out["cat_share_top_bm25"] = share.reindex(idx).fillna(0.0).to_numpy()
    return out


def _price_features(pairs: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame(index=pairs.index)
    price = pd.to_numeric(pairs.get("price", pd.Series(np.nan, index=pairs.index)), errors="coerce")
    price = price.where(price >= 0)
    out["price"] = price
    out["log_price"] = np.log1p(price)
    med = price.groupby(pairs["query_id"]).transform("median")
    out["price_rel_median"] = price / med.where(med > 0)
    out["price_pct"] = price.groupby(pairs["query_id"]).rank(pct=True)
    return out


def build_features(
    ds: Dataset,
    judge: pd.DataFrame | None = None,
    student: pd.DataFrame | None = None,
    config: FeatureConfig | None = None,
    log_queries: set[str] | None = None,
    scale: GradeScale = DEFAULT_SCALE,
) -> tuple[pd.DataFrame, list[str]]:
    """Compute every configured feature; returns (frame keyed by query_id/product_id, feature names).

    ``log_queries``: queries whose engagement log may feed features (default: the train split when
    the folder has splits, else every query). Held-out queries' logs are never read in the default
    ``leave_query_out`` mode.
    """
    config = config or FeatureConfig()
    pairs = candidate_pairs(ds, judge)
    frame = pairs[KEY + ["grade", "split"]].copy()
    names: list[str] = []

    bm25 = None
    for method in config.lexical:
        frame[method] = _score_pairs(method, pairs)
        names.append(method)
    if "bm25" in config.lexical:
        bm25 = frame["bm25"].to_numpy()

    if judge is not None and config.judge:
        jc = _judge_columns(judge, scale)
        frame = frame.merge(jc.drop_duplicates(KEY), on=KEY, how="left")
        names += [c for c in jc.columns if c not in KEY]
    if student is not None:
        st = student[KEY + ["score"]].rename(columns={"score": "student_score"})
        frame = frame.merge(st.drop_duplicates(KEY), on=KEY, how="left")
        names.append("student_score")

    if config.engagement != "none" and ds.engagement is not None and len(ds.engagement):
        if log_queries is None:
            log_queries = ds.split_queries("train") if ds.splits is not None else None
        stats = product_log_stats(pairs, ds.engagement, log_queries, config.prior_strength)
        for c in stats.columns:
            frame[c] = stats[c].to_numpy()
        names += list(stats.columns)
        if config.engagement == "pair":
            rates = pair_rates(
                pairs, ds.engagement, EngagementConfig(prior="global", prior_strength=config.prior_strength)
            )
            for c in ("ctr", "atc_rate", "order_rate"):
                frame["pair_" + c] = rates[c].to_numpy()
                names.append("pair_" + c)

    if config.price:
        pf = _price_features(pairs)
        for c in pf.columns:
            frame[c] = pf[c].to_numpy()
        names += list(pf.columns)
    if config.category:
        cf = _category_features(pairs, bm25)
        for c in cf.columns:
            frame[c] = cf[c].to_numpy()
        names += list(cf.columns)
    return frame, names


def write_features(
    frame: pd.DataFrame, names: list[str], out_dir: str | Path, extra: dict | None = None
) -> dict:
    """Write ``features.parquet`` and ``features.json`` (the ordered feature list) into ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / FEATURES_FILE
    tmp = path.with_suffix(".parquet.tmp")
    frame.to_parquet(tmp, index=False)
    tmp.replace(path)
    meta = {"key": KEY, "features": names, "non_features": [c for c in frame.columns if c not in names + KEY]}
    meta.update(extra or {})
    (out_dir / FEATURE_LIST_FILE).write_text(json.dumps(meta, indent=2))
    return {
        "features": str(path),
        "feature_list": str(out_dir / FEATURE_LIST_FILE),
        "n_rows": len(frame),
        "n_features": len(names),
    }


def read_features(folder: str | Path) -> tuple[pd.DataFrame, list[str]]:
    """Read a features folder written by :func:`write_features`."""
    folder = Path(folder)
    if not (folder / FEATURES_FILE).exists():
        raise DataError(f"{folder}: no {FEATURES_FILE} (run `ecomrel rank features` first)")
    meta = json.loads((folder / FEATURE_LIST_FILE).read_text())
    frame = pd.read_parquet(folder / FEATURES_FILE)
    missing = [c for c in meta["features"] if c not in frame.columns]
    if missing:
        raise DataError(f"{folder / FEATURES_FILE}: feature column(s) {', '.join(missing)} listed but absent")
    return frame, list(meta["features"])


def run_features(
    data_dir: str | Path,
    judge_scores: str | Path | None,
    out_dir: str | Path,
    student_scores: str | Path | None = None,
    config: FeatureConfig | None = None,
) -> dict:
    """Stage entry point: data folder (+ judge / student prediction files) → features folder."""
    config = config or FeatureConfig()
    ds = Dataset.load(data_dir)
    judge = read_prediction_file(judge_scores, "judge") if judge_scores else None
    student = read_prediction_file(student_scores, "student") if student_scores else None
    frame, names = build_features(ds, judge, student, config)
    log_note = "train split" if ds.splits is not None else "all queries (no splits.parquet)"
    return write_features(
        frame,
        names,
        out_dir,
        {
            "engagement_mode": config.engagement,
            "engagement_log_queries": log_note,
            "judge": str(judge_scores) if judge_scores else None,
            "student": str(student_scores) if student_scores else None,
        },
    )
