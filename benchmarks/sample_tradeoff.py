"""Walmart-style label trade-off on the built-in sample catalogue; prints JSON.

Until the LLM judge exists, two stand-in judges are used (say which in any report):

- ``perfect``: p = one-hot(true_grade), so expected_grade = true_grade (an oracle judge);
- ``noisy``: p = softmax(−(k − true_grade)²/τ + ε), ε ~ N(0, σ²) per grade — a judge that is
  mostly right but spreads probability over neighbouring grades and is sometimes wrong.

Baseline named in the same run: LambdaMART trained on engagement-only labels. The figures
are NDCG@10 on human grades and engagement@10 (add-to-cart rate of the top 10) on the test
queries; the best blend is chosen on the dev queries.

    python benchmarks/sample_tradeoff.py --out /tmp/rank_sample [--products 2400 --queries 500]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd

os.environ.setdefault("ECOMREL_NO_PROGRESS", "1")


def simulated_judge(
    judgments: pd.DataFrame, kind: str, tau: float = 0.6, sigma: float = 1.0, seed: int = 0
) -> pd.DataFrame:
    """A prediction file built from ``true_grade``: ``perfect`` (one-hot) or ``noisy`` (softmax + noise)."""
    g = judgments["true_grade"].to_numpy(dtype=float)
    k = np.arange(4, dtype=float)
    if kind == "perfect":
        p = (k[None, :] == g[:, None]).astype(float)
    else:
        rng = np.random.default_rng(seed)
        logits = -((k[None, :] - g[:, None]) ** 2) / tau + rng.normal(0.0, sigma, (len(g), 4))
        p = np.exp(logits - logits.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
    out = judgments[["query_id", "product_id"]].copy()
    for i in range(4):
        out[f"p_{i}"] = p[:, i]
    out["expected_grade"] = p @ k
    out["score"] = out["expected_grade"]
    out["pred_grade"] = p.argmax(1)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("/tmp/rank_sample"))
    ap.add_argument("--products", type=int, default=2400)
    ap.add_argument("--queries", type=int, default=500)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--judges", default="perfect,noisy")
    args = ap.parse_args()

    from ecomrel.data.sample import generate_sample
    from ecomrel.data.splits import split_by_query
    from ecomrel.rank.rank_config import RankConfig
    from ecomrel.rank.tradeoff import run_tradeoff

    ds = generate_sample(n_products=args.products, n_queries=args.queries, seed=args.seed)
    ds.splits = split_by_query(ds.queries, seed=args.seed)
    data_dir = ds.save(args.out / "data")
    report: dict = {
        "sample": {"products": len(ds.products), "queries": len(ds.queries), "pairs": len(ds.judgments)},
        "judges": {},
    }
    k = 10
    for kind in args.judges.split(","):
        judge = simulated_judge(ds.judgments, kind, seed=args.seed)
        acc = float((judge["pred_grade"].to_numpy() == ds.judgments["true_grade"].to_numpy()).mean())
        t0 = time.perf_counter()
        res = run_tradeoff(data_dir, judge, args.out / kind, RankConfig())
        base, best = res["engagement_only"], res["best_blend"]
        rows = [
            {
                key: r.get(key)
                for key in (
                    "name",
                    "family",
                    f"ndcg@{k}",
                    f"ndcg_true@{k}",
                    f"engagement@{k}",
                    "ndcg_rel_change",
                    "engagement_rel_change",
                    f"dev_ndcg@{k}",
                    f"dev_engagement@{k}",
                )
            }
            for r in res["table"]
        ]
        report["judges"][kind] = {
            "judge_accuracy_vs_true_grade": acc,
            "seconds": round(time.perf_counter() - t0, 1),
            "baseline": "engagement_only labels",
            "engagement_only": {m: base.get(m) for m in (f"ndcg@{k}", f"engagement@{k}")},
            "best_blend": {
                m: best.get(m)
                for m in ("name", f"ndcg@{k}", f"engagement@{k}", "ndcg_rel_change", "engagement_rel_change")
            },
            "criterion": res["criterion"],
            "table": rows,
            "plot": res["paths"]["plot"],
        }
    print(json.dumps(report, indent=2, default=float))


if __name__ == "__main__":
    main()
