"""BM25 and TF-IDF on a query-disjoint dev split of Home Depot, against random and constant baselines.

Reads ``../shared/data/homedepot/train.csv`` directly (59,535 pairs, 9,461 queries), splits by query
(scikit-learn GroupShuffleSplit, seed 0, 80/20), scores every pair, tunes the three grade cuts on
train (macro-F1) and evaluates on dev with ``ecomrel.eval.evaluate``:

- ``ndcg@10`` with gain = raw score − 1 (0..2), ranking each query's judged products;
- ``f1_macro`` / ``accuracy`` on the four grades (data README mapping of the 1–3 mean);
- ``raw_rmse``: RMSE on the 1–3 scale of ``1 + 2·pred_grade/3`` against the rater mean, and
  ``raw_rmse_expected`` of ``1 + 2·E[grade | score]/3`` (isotonic calibration fitted on train).

Named baselines in the same run: ``random`` (uniform random scores, cuts tuned the same way) and
``constant`` (every pair gets the train mean for RMSE; ties ranked by product id for NDCG).
Prints one JSON object; ratios are against ``random``.

    python benchmarks/homedepot_baselines.py [--csv PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("ECOMREL_NO_PROGRESS", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.model_selection import GroupShuffleSplit  # noqa: E402

from ecomrel.baselines.lexical import GradeThresholds, score_pairs  # noqa: E402
from ecomrel.eval import evaluate  # noqa: E402
from ecomrel.grades import homedepot_grade  # noqa: E402

DEFAULT_CSV = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "homedepot" / "train.csv"
METRICS = ["ndcg@10", "mrr", "f1_macro", "accuracy", "raw_rmse", "raw_mae", "optimistic_rate"]


def load(csv: Path) -> pd.DataFrame:
    df = pd.read_csv(csv, encoding="utf-8", dtype={"product_uid": str})
    return pd.DataFrame(
        {
            "query_id": df["search_term"].str.strip().str.lower(),
            "query": df["search_term"],
            "product_id": df["product_uid"],
            "title": df["product_title"],
            "raw_score": df["relevance"].astype(float),
            "grade": df["relevance"].map(homedepot_grade).astype(int),
        }
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--csv", type=Path, default=DEFAULT_CSV)
    args = ap.parse_args()
    pairs = load(args.csv)
    gss = GroupShuffleSplit(n_splits=1, test_size=0.2, random_state=0)
    train_idx, dev_idx = next(gss.split(pairs, groups=pairs["query_id"]))
    pairs["split"] = "train"
    pairs.loc[dev_idx, "split"] = "dev"
    train = pairs["split"].to_numpy() == "train"
    judged = pairs[["query_id", "product_id", "grade", "raw_score", "split"]]

    results: dict[str, dict[str, float]] = {}

    def run(name: str, scores: np.ndarray, seconds: float, pred_grade: np.ndarray | None = None) -> None:
        start = time.perf_counter()
        thr = GradeThresholds.fit(scores[train], pairs["grade"].to_numpy()[train], "macro_f1", method=name)
        tune_s = time.perf_counter() - start
        pred = pairs[["query_id", "product_id"]].assign(
            score=scores, pred_grade=thr.predict(scores) if pred_grade is None else pred_grade
        )
        rep = evaluate(judged, pred, split="dev", metrics=METRICS, gains="raw-1")
        # raw_rmse above maps the hard grade (1 + 2·g/3); with the isotonic E[grade | score]:
        pred["expected_grade"] = thr.expected_grade(scores)
        cal = evaluate(judged, pred, split="dev", metrics=["raw_rmse", "raw_mae"], gains="raw-1")
        results[name] = {
            **{k: round(v, 4) for k, v in rep.metrics.items()},
            "raw_rmse_expected": round(cal["raw_rmse"], 4),
            "raw_mae_expected": round(cal["raw_mae"], 4),
            "score_seconds": round(seconds, 2),
            "tune_seconds": round(tune_s, 2),
            "cuts": [round(c, 4) for c in thr.cuts],
        }

    for method in ("bm25", "tfidf"):
        start = time.perf_counter()
        scores = score_pairs(method, pairs)
        run(method, scores, time.perf_counter() - start)

    rng = np.random.default_rng(0)
    run("random", rng.random(len(pairs)), 0.0)
    # Constant: the train-mean raw score for every pair, expressed as the nearest grade for F1,
    # and as the exact mean for RMSE (reported separately below, since grades are discrete).
    mean_raw = float(pairs.loc[train, "raw_score"].mean())
    const_grade = homedepot_grade(mean_raw)
    run("constant", np.zeros(len(pairs)), 0.0, pred_grade=np.full(len(pairs), const_grade))
    dev = ~train
    results["constant"]["raw_rmse_train_mean"] = round(
        float(np.sqrt(np.mean((pairs.loc[dev, "raw_score"] - mean_raw) ** 2))), 4
    )

    ratios = {
        m: {
            k: round(results[m][k] / results["random"][k], 3)
            for k in ("ndcg@10", "f1_macro", "raw_rmse", "raw_rmse_expected")
        }
        for m in ("bm25", "tfidf")
    }
    print(
        json.dumps(
            {
                "data": {
                    "pairs": len(pairs),
                    "queries": int(pairs["query_id"].nunique()),
                    "train_pairs": int(train.sum()),
                    "dev_pairs": int(dev.sum()),
                    "dev_queries": int(pairs.loc[dev, "query_id"].nunique()),
                },
                "results": results,
                "ratio_vs_random": ratios,
                "tfidf_over_bm25_score_time": round(
                    results["tfidf"]["score_seconds"] / max(results["bm25"]["score_seconds"], 1e-9), 3
                ),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
