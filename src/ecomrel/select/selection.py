"""``run_selection(config)``: LREF stage 1 end to end — helpers, confident learning, rules, outputs.

Outputs in ``config.out`` (a run's ``select/``)::

    decisions.parquet            every pool pair: helpers' out-of-fold probabilities, predictions and
                                 confidences, rule flags, kept, reason, rules
    selected.parquet             the kept judgments (judgments columns + band, reason): the training set
    suspected_mislabels.parquet  flagged pairs ranked by confidence (see ecomrel.select.mislabels)
    suspected_mislabels.html     the top 50 of them as an HTML table fragment
    metrics.json                 counts by rule and by reason × grade × band, helper accuracy and time,
                                 and, when the data has ``true_grade``, precision/recall of the flags
    folds.parquet                the fold of every pool pair
    helpers/<im|ci|ms>/fold_<f>/ model/ (safetensors), train_pairs.parquet, oof.parquet, done.json
    helpers/ms/targets.parquet   the confusable alternatives MS learns
    config.yaml                  the resolved config
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ecomrel.data.schema import DataError, Dataset
from ecomrel.errors import ConfigError
from ecomrel.eval import write_metrics_json
from ecomrel.grades import DEFAULT_SCALE
from ecomrel.select.confident import find_ordinal_label_issues
from ecomrel.select.config import SelectConfig
from ecomrel.select.decisions import check_not_degenerate, counts_by, decide, rule_counts
from ecomrel.select.helpers import (
    assign_folds,
    band_balanced_sample,
    crossfit,
    fingerprint,
    make_scorer,
    uniform_sample,
)
from ecomrel.select.mislabels import mislabel_report, suspected_mislabels_html

log = logging.getLogger(__name__)

HELPERS = ("im", "ci", "ms")


def query_bands(queries: pd.DataFrame, judgments: pd.DataFrame, frequency: str = "auto") -> pd.Series:
    """head/torso/tail of every query id (traffic-share rule of :mod:`ecomrel.eval.segments`).

    ``frequency``: ``column`` uses the queries' ``frequency``; ``judgments`` the number of judged pairs
    per query; ``auto`` the column where it has positive values, else the judgment counts.
    """
    q = queries[["query_id"]].copy()
    q["query_id"] = q["query_id"].astype(str)
    has_col = (
        "frequency" in queries.columns and (pd.to_numeric(queries["frequency"], errors="coerce") > 0).any()
    )
    if frequency == "column" and not has_col:
        raise DataError("queries.parquet: field 'frequency': no values; use frequency: judgments")
    if frequency == "column" or (frequency == "auto" and has_col):
        q["frequency"] = pd.to_numeric(queries["frequency"], errors="coerce").to_numpy()
    else:
        counts = judgments["query_id"].astype(str).value_counts()
        q["frequency"] = q["query_id"].map(counts).fillna(0).to_numpy()
    try:
        from ecomrel.eval.segments import frequency_band
    except ImportError:  # the shared band rule lives in eval.segments; data.splits has the same rule
        from ecomrel.data.splits import frequency_bands

        bands = frequency_bands(q["frequency"])
    else:
        bands = frequency_band(q)
    return pd.Series(bands.to_numpy(), index=q["query_id"].to_numpy())


def load_pool(config: SelectConfig) -> tuple[pd.DataFrame, Dataset]:
    """The judged pairs to select from (joined with query text and product fields), with ``band``."""
    ds = Dataset.load(config.data_dir)
    if config.split is not None:
        if ds.splits is None:
            raise DataError(
                f"{config.data_dir}: no splits.parquet for split {config.split!r}; run `ecomrel data split` "
                "or set split: null to select among every judged pair"
            )
        pool = ds.pairs(config.split)
    else:
        pool = ds.pairs()
    pool = pool[pool["grade"].notna()].copy()
    pool["query_id"] = pool["query_id"].astype(str)
    pool["product_id"] = pool["product_id"].astype(str)
    pool = pool.drop_duplicates(["query_id", "product_id"], keep="last")
    if config.max_pairs is not None and len(pool) > config.max_pairs:
        pool = pool.sample(config.max_pairs, random_state=config.seed)
    pool = pool.sort_values(["query_id", "product_id"], kind="stable").reset_index(drop=True)
    if pool.empty:
        where = f"split {config.split!r}" if config.split else "the judgments"
        raise DataError(f"{config.data_dir}: no judged pairs in {where} to select from")
    k = DEFAULT_SCALE.size
    g = pool["grade"].to_numpy(dtype=int)
    if ((g < 0) | (g >= k)).any():
        i = int(np.flatnonzero((g < 0) | (g >= k))[0])
        raise DataError(
            f"{config.data_dir}/judgments.parquet: field 'grade': {g[i]} is not a grade 0..{k - 1}"
        )
    pool["grade"] = g
    bands = query_bands(ds.queries, ds.judgments, config.frequency)
    pool["band"] = pool["query_id"].map(bands).fillna("tail").astype(str)
    return pool, ds


def ms_targets(config: SelectConfig, pool: pd.DataFrame) -> tuple[np.ndarray, dict[str, Any]]:
    """Confusable alternatives of every pool label (cached in helpers/ms/targets.parquet)."""
    from ecomrel.select.confusable import builtin_alternatives, teacher_alternatives

    path = Path(config.out) / "helpers" / "ms" / "targets.parquet"
    key = fingerprint(
        config.ms.teacher,
        config.ms.teacher_config.model_dump() if config.ms.teacher_config else None,
        (pool["query_id"] + "\x1f" + pool["product_id"]).to_numpy(),
        pool["grade"].to_numpy(),
    )
    if path.exists():
        cached = pd.read_parquet(path)
        if len(cached) == len(pool) and "key" in cached and cached["key"].iloc[0] == key:
            return cached["alternative"].to_numpy(dtype=int), {"teacher": config.ms.teacher, "reused": True}
    grades = pool["grade"].to_numpy(dtype=int)
    if config.ms.teacher == "openai":
        from ecomrel.reason.chains_config import TeacherConfig
        from ecomrel.reason.teacher import OpenAITeacher

        tc = config.ms.teacher_config or TeacherConfig(kind="openai")
        teacher = OpenAITeacher(tc, cache_dir=tc.cache_dir or Path(config.out) / "teacher_cache")
        try:
            alt, counts = teacher_alternatives(pool, grades, teacher)
        finally:
            teacher.close()
    else:
        alt, counts = builtin_alternatives(pool, grades)
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(
        {
            "query_id": pool["query_id"],
            "product_id": pool["product_id"],
            "grade": grades,
            "alternative": alt,
            "key": key,
        }
    ).to_parquet(path, index=False)
    return alt, counts


def _flag_quality(flag: np.ndarray, noisy: np.ndarray) -> dict[str, float]:
    tp = int((flag & noisy).sum())
    n = int(flag.sum())
    return {
        "flagged": n,
        "true_positives": tp,
        "precision": tp / n if n else float("nan"),
        "recall": tp / int(noisy.sum()) if noisy.any() else float("nan"),
    }


def noise_check(decisions: pd.DataFrame, seed: int = 0) -> dict[str, Any]:
    """Precision/recall of each flagger against ``true_grade`` (the sample's known noise), with a random
    flagger at each flagger's rate (its expected precision is the noise rate, its recall the rate)."""
    noisy = decisions["grade"].to_numpy() != decisions["true_grade"].to_numpy()
    ms = decisions["suspect_ms"].to_numpy(dtype=bool)
    cl = decisions["suspect_cl"].to_numpy(dtype=bool)
    rng = np.random.default_rng(seed)
    out: dict[str, Any] = {
        "pairs": len(decisions),
        "mislabelled": int(noisy.sum()),
        "noise_rate": float(noisy.mean()),
    }
    for name, flag in (
        ("ms", ms),
        ("confident", cl),
        ("union", ms | cl),
        ("intersection", ms & cl),
        ("selection_suspect", decisions["suspect"].to_numpy(dtype=bool)),
    ):
        row = _flag_quality(flag, noisy)
        rand = np.zeros(len(flag), dtype=bool)
        rand[rng.choice(len(flag), size=int(flag.sum()), replace=False)] = True
        row["random_same_rate"] = _flag_quality(rand, noisy)
        out[name] = row
    kept = decisions["kept"].to_numpy(dtype=bool)
    out["noise_rate_pool"] = float(noisy.mean())
    out["noise_rate_selected"] = float(noisy[kept].mean()) if kept.any() else float("nan")
    return out


def run_selection(config: SelectConfig) -> dict[str, Any]:
    """Train the helpers (K-fold, resumable), flag, decide, write the outputs; return paths and metrics."""
    t0 = time.perf_counter()
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    config.to_yaml(out / "config.yaml")
    pool, _ = load_pool(config)
    k = DEFAULT_SCALE.size
    n = len(pool)
    folds = assign_folds(pool, config.folds, config.seed, config.group_by_query)
    pd.DataFrame({"query_id": pool["query_id"], "product_id": pool["product_id"], "fold": folds}).to_parquet(
        out / "folds.parquet", index=False
    )
    grades = pool["grade"].to_numpy(dtype=int)
    bands = pool["band"].to_numpy()
    keep_cols = [
        c for c in ("query_id", "product_id", "query", "title", "grade", "true_grade", "band") if c in pool
    ]
    frame = pool[keep_cols].copy()
    frame["fold"] = folds
    helper_stats: dict[str, Any] = {}
    probs: dict[str, np.ndarray] = {}
    for h in HELPERS:
        hc = getattr(config, h)
        if not hc.enabled:
            continue
        settings = config.scorer_for(h)
        if h == "ms":
            targets, teacher_counts = ms_targets(config, pool)
            helper_stats["ms_teacher"] = teacher_counts
            frame["ms_target"] = targets
        else:
            targets = grades
        if h == "ci":

            def sampler(idx, rng, hc=hc):
                return band_balanced_sample(
                    idx, bands, hc.sample_fraction, hc.max_train_pairs, rng, hc.oversample
                )
        else:

            def sampler(idx, rng, hc=hc):
                return uniform_sample(idx, hc.sample_fraction, hc.max_train_pairs, rng)

        scorer = make_scorer(settings, k, config.seed)
        sfp = fingerprint(settings.model_dump(mode="json"), hc.model_dump(mode="json", exclude={"scorer"}))
        t = time.perf_counter()
        p, stats = crossfit(
            h, scorer, pool, targets, folds, sampler, out / "helpers" / h, config.seed, sfp, log.info
        )
        stats["seconds"] = round(time.perf_counter() - t, 2)
        stats["oof_accuracy"] = float((p.argmax(1) == targets).mean())
        stats["target"] = "confusable alternative" if h == "ms" else "human grade"
        helper_stats[h] = stats
        probs[h] = p
        for i in range(k):
            frame[f"{h}_p_{i}"] = p[:, i]
        frame[f"{h}_pred"] = p.argmax(1)
        frame[f"{h}_p_label"] = p[np.arange(n), grades]
        frame[f"{h}_confidence"] = p.max(1)

    cl_source = {"im": ["im"], "ci": ["ci"], "mean": ["im", "ci"]}[config.confident.probs]
    cl_source = [h for h in cl_source if h in probs] or [h for h in ("im", "ci") if h in probs]
    if cl_source:
        p_cl = np.mean([probs[h] for h in cl_source], axis=0)
        cl = find_ordinal_label_issues(
            grades,
            p_cl,
            filter_by=config.confident.filter_by,
            min_distance=config.confident.min_distance,
            distance=config.confident.distance,
        )
        for c in cl.columns:
            frame[c] = cl[c].to_numpy()
    elif config.mislabel in ("confident", "both"):
        raise ConfigError(f"mislabel={config.mislabel!r} needs IM or CI out-of-fold probabilities")

    decisions = decide(frame, config)
    check_not_degenerate(decisions, config.allow_empty)
    decisions.to_parquet(out / "decisions.parquet", index=False)

    ds_j = Dataset.load(config.data_dir).judgments
    ds_j = ds_j.assign(query_id=ds_j["query_id"].astype(str), product_id=ds_j["product_id"].astype(str))
    kept = decisions.loc[decisions["kept"], ["query_id", "product_id", "band", "reason"]]
    selected = ds_j.merge(kept, on=["query_id", "product_id"], how="inner")
    selected.to_parquet(out / "selected.parquet", index=False)

    report = mislabel_report(decisions, k)
    report.to_parquet(out / "suspected_mislabels.parquet", index=False)
    (out / "suspected_mislabels.html").write_text(suspected_mislabels_html(report), encoding="utf-8")

    counts = rule_counts(decisions)
    metrics: dict[str, Any] = {
        "pool": config.split or "all",
        "counts": counts,
        "keep_ratio": counts["kept"] / n,
        "by_reason_grade_band": counts_by(decisions),
        "pool_by_grade": {str(g): int(v) for g, v in decisions["grade"].value_counts().sort_index().items()},
        "kept_by_grade": {
            str(g): int(v)
            for g, v in decisions.loc[decisions["kept"], "grade"].value_counts().sort_index().items()
        },
        "pool_by_band": {str(b): int(v) for b, v in decisions["band"].value_counts().items()},
        "kept_by_band": {
            str(b): int(v) for b, v in decisions.loc[decisions["kept"], "band"].value_counts().items()
        },
        "flags": {
            "ms": int(decisions["suspect_ms"].sum()),
            "confident": int(decisions["suspect_cl"].sum()),
            "union": int((decisions["suspect_ms"] | decisions["suspect_cl"]).sum()),
            "suspected_mislabels": int(len(report)),
        },
        "helpers": helper_stats,
        "folds": config.folds,
        "wall_seconds": round(time.perf_counter() - t0, 2),
    }
    if "true_grade" in decisions.columns and decisions["true_grade"].notna().all():
        metrics["noise_check"] = noise_check(decisions, config.seed)
    write_metrics_json(metrics, out / "metrics.json")
    return {
        "out": str(out),
        "decisions": str(out / "decisions.parquet"),
        "selected": str(out / "selected.parquet"),
        "suspected_mislabels": str(out / "suspected_mislabels.parquet"),
        "metrics_file": str(out / "metrics.json"),
        **metrics,
    }
