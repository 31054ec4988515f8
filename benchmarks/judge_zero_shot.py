"""Zero-shot SmolLM2 judge on a Home Depot dev subset (or the sample catalogue), with BM25 beside it.

Imports ``../shared/data/homedepot/train.csv`` into a temporary data folder, splits it by
query (seed 0), judges ``--limit`` dev pairs (whole queries, seeded) with ``run_judge`` and
prints JSON: the judge's macro-F1, weighted F1, RMSE, ECE, optimistic-bias rate and
NDCG@10, and BM25's NDCG@10 on the same pairs as the named baseline.

    python benchmarks/judge_zero_shot.py --source homedepot --limit 500
    python benchmarks/judge_zero_shot.py --source sample --limit 300
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("ECOMREL_NO_PROGRESS", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("ECOMREL_SHARED_DATA", ROOT / ".." / "shared" / "data"))


def _ndcg10(df, score_col: str) -> float:
    from ecomrel.eval.ranking import ranking_metrics

    run = df[["query_id", "product_id"]].assign(score=df[score_col].to_numpy())
    qrels = df[["query_id", "product_id", "grade"]]
    return float(ranking_metrics(qrels, run, ["ndcg@10"])["ndcg@10"])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--source", choices=["homedepot", "sample"], default="homedepot")
    ap.add_argument("--limit", type=int, default=500)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--work", type=Path, default=None, help="Keep the data and judge folders here.")
    args = ap.parse_args()

    from ecomrel.data.schema import Dataset
    from ecomrel.data.splits import write_splits
    from ecomrel.llm.judge import run_judge
    from ecomrel.llm.judge_config import JudgeConfig

    work = args.work or Path(tempfile.mkdtemp(prefix="ecomrel-zs-"))
    data = work / "data"
    if not (data / "splits.parquet").exists():
        if args.source == "homedepot":
            from ecomrel.data.sources import import_source

            src = SHARED / "homedepot" / "train.csv"
            if not src.exists():
                sys.exit(f"{src} not found (set ECOMREL_SHARED_DATA)")
            import_source("homedepot", src, data)
        else:
            from ecomrel.data.sample import generate_sample

            generate_sample(seed=0).save(data)
        write_splits(data, seed=0)
    t0 = time.perf_counter()
    result = run_judge(
        JudgeConfig(
            model="smollm2",
            data=data,
            out=work / "judge",
            split="dev",
            limit=args.limit,
            batch_size=args.batch_size,
            threads=args.threads,
            share_prefix=True,
        )
    )
    seconds = time.perf_counter() - t0
    import pandas as pd

    from ecomrel.baselines.lexical import score_pairs as lexical_scores

    scores = pd.read_parquet(result["scores"])
    pairs = (
        Dataset.load(data)
        .pairs("dev")
        .merge(scores[["query_id", "product_id", "score"]], on=["query_id", "product_id"])
    )
    pairs["bm25"] = lexical_scores("bm25", pairs)
    judge_metrics = dict(result["metrics"]["dev"])
    judge_metrics["ndcg@10"] = _ndcg10(pairs, "score")
    print(
        json.dumps(
            {
                "source": args.source,
                "pairs": int(len(pairs)),
                "queries": int(pairs["query_id"].nunique()),
                "grade_distribution": {
                    int(k): int(v) for k, v in pairs["grade"].value_counts().sort_index().items()
                },
                "judge_zero_shot_smollm2": judge_metrics,
                "bm25": {"ndcg@10": _ndcg10(pairs, "bm25")},
                "seconds": round(seconds, 1),
                "pairs_per_s": result["pairs_per_s"],
                "tiers": result["tiers"],
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
