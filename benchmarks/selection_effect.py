"""Does LREF data selection help? The MiniLM student on (a) all train pairs, (b) the selected pairs,
(c) a random subset of the same size as (b) — same dev pairs, query-disjoint Home Depot split.

Data: ``../shared/data/homedepot/train.csv`` imported with ``ecomrel.data.sources`` (59,535 pairs,
9,461 queries), a seeded random subset of ``--queries`` queries (CPU budget), split by query
70/15/15 (``ecomrel.data.splits.split_by_query``, seed ``--seed``). Home Depot has no query
frequency, so the head/torso/tail bands come from the number of judged pairs per query.

Selection: ``ecomrel.select.run_selection`` on the train split (pool = all train pairs), helpers of
kind ``--helper`` (``cross_encoder`` = MiniLM-L6, ``linear`` = hashed word-pair logistic regression),
``--folds``-fold cross-fitting, ``--keep-ratio`` (omit: LREF's threshold rules alone). Its wall time
is reported.

Students: ``ecomrel.train.distill_trainer.run_distill`` with ``human_only`` (cross-entropy on the
human grade), MiniLM-L6, ``--epochs``, max_length ``--max-length``; the three runs differ only in
which train judgments their data folder holds. Metrics on the dev split by ``ecomrel.eval.evaluate``:
``f1_macro``, ``f1_weighted`` (4 grades), ``raw_rmse`` (1 + 2·E[grade]/3 against the rater mean, the
1–3 scale) and ``ndcg@10`` (gain = raw score − 1), with argmax grades; and the same metrics on the
test split with grades decided by cut points tuned on dev (``ecomrel.predict``, ``decisions="refit"``),
since a student after a few epochs often argmaxes one grade. The named baseline is (a) ``all``; (c) ``random``
is the control for training-set size. Prints one JSON object. Resumable: finished stages are reused.

    /work/tools/heavy .venv/bin/python benchmarks/selection_effect.py --work runs/selection_effect \
        --queries 600 --helper linear --keep-ratio 0.5
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

from ecomrel.data.schema import Dataset  # noqa: E402

DEFAULT_HD = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "homedepot"
METRICS = ["f1_macro", "f1_weighted", "raw_rmse", "ndcg@10", "accuracy"]


def prepare(work: Path, hd: Path, n_queries: int | None, seed: int) -> Path:
    from ecomrel.data.sources import import_source
    from ecomrel.data.splits import split_by_query

    data = work / "data"
    if (data / "splits.parquet").exists():
        return data
    tmp = work / "_import"
    import_source("homedepot", hd, tmp)
    ds = Dataset.load(tmp)
    if n_queries is not None and len(ds.queries) > n_queries:
        keep = set(ds.queries["query_id"].sample(n_queries, random_state=seed))
        ds.queries = ds.queries[ds.queries["query_id"].isin(keep)].reset_index(drop=True)
        ds.judgments = ds.judgments[ds.judgments["query_id"].isin(keep)].reset_index(drop=True)
        ds.products = ds.products[ds.products["product_id"].isin(set(ds.judgments["product_id"]))]
    ds.engagement = None
    ds.splits = split_by_query(ds.queries, seed=seed)
    ds.save(data)
    return data


def variant(data: Path, out: Path, train_keys: set[tuple[str, str]] | None) -> Path:
    """A copy of ``data`` whose train-split judgments are only ``train_keys`` (None: all of them)."""
    if (out / "splits.parquet").exists():
        return out
    ds = Dataset.load(data)
    if train_keys is not None:
        train_q = ds.split_queries("train")
        j = ds.judgments
        keys = zip(j["query_id"].astype(str), j["product_id"].astype(str), strict=True)
        in_train = j["query_id"].isin(train_q).to_numpy()
        keep = np.array([(k in train_keys) for k in keys]) | ~in_train
        ds.judgments = j[keep].reset_index(drop=True)
    ds.save(out)
    return out


def train_student(data: Path, out: Path, args: argparse.Namespace) -> dict:
    from ecomrel.eval import evaluate
    from ecomrel.train.distill_config import DistillConfig
    from ecomrel.train.distill_trainer import run_distill

    cfg = DistillConfig(
        data_dir=data,
        out=out,
        human_only=True,
        training_args={
            "num_train_epochs": args.epochs,
            "per_device_train_batch_size": 32,
            "learning_rate": args.lr,
            "save_steps": 10_000,
        },
        seed=args.seed,
        num_threads=1,
        eval_batch_size=128,
        recipe={"max_length": args.max_length},
    )
    from ecomrel.predict import predict

    t0 = time.perf_counter()
    res = run_distill(cfg)
    seconds = round(time.perf_counter() - t0, 1)
    flat = evaluate(data, res["predictions"], split="dev", metrics=METRICS, gains="raw-1").flat()
    # test split graded by cut points tuned on dev (the pipeline's rule for every learned model)
    decided = out / "test_decided.parquet"
    predict(res["model_dir"], data, split="test", decisions="refit", tune_split="dev", out=decided)
    test = evaluate(data, decided, split="test", metrics=METRICS, gains="raw-1").flat()
    return {
        "train_pairs": res["counts"].get("train_rows"),
        "seconds": seconds,
        **{m: flat.get(m) for m in METRICS},
        "n_dev_pairs": flat.get("n_pairs", flat.get("n")),
        "test_decided": {m: test.get(m) for m in METRICS} | {"n_pairs": test.get("n_pairs")},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, default=Path("runs/selection_effect"))
    ap.add_argument("--homedepot", type=Path, default=DEFAULT_HD)
    ap.add_argument("--queries", type=int, default=600, help="Seeded random subset of queries (None: all).")
    ap.add_argument("--helper", default="linear", choices=["cross_encoder", "linear", "llm_judge"])
    ap.add_argument("--folds", type=int, default=3)
    ap.add_argument(
        "--helper-pairs", type=int, default=None, help="Cap on each helper fold's training pairs."
    )
    ap.add_argument("--keep-ratio", type=float, default=None)
    ap.add_argument("--mislabel", default="either")
    ap.add_argument("--epochs", type=float, default=1.0)
    ap.add_argument("--lr", type=float, default=6e-5)
    ap.add_argument("--max-length", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--only", default="all,selected,random", help="Which students to train.")
    args = ap.parse_args()

    from ecomrel.select import SelectConfig, run_selection

    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    data = prepare(work, args.homedepot, args.queries, args.seed)
    tag = f"keep{args.keep_ratio}" if args.keep_ratio else "thresholds"
    tag += f"_{args.helper}_{args.mislabel}"
    sel_dir = work / f"select_{tag}"
    helper = {"max_train_pairs": args.helper_pairs}
    cfg = SelectConfig(
        data_dir=data,
        out=sel_dir,
        split="train",
        folds=args.folds,
        scorer={"kind": args.helper, "max_length": args.max_length},
        im=helper,
        ci=helper,
        ms=helper,
        keep_ratio=args.keep_ratio,
        mislabel=args.mislabel,
        seed=args.seed,
    )
    t0 = time.perf_counter()
    sel = run_selection(cfg)
    sel_seconds = round(time.perf_counter() - t0, 1)
    selected = pd.read_parquet(sel["selected"])
    keys = set(zip(selected["query_id"].astype(str), selected["product_id"].astype(str), strict=True))
    decisions = pd.read_parquet(sel["decisions"])
    rng = np.random.default_rng(args.seed)
    pool_keys = list(zip(decisions["query_id"].astype(str), decisions["product_id"].astype(str), strict=True))
    random_keys = {pool_keys[i] for i in rng.choice(len(pool_keys), size=len(keys), replace=False)}

    report: dict = {
        "data": {
            "queries": args.queries,
            "seed": args.seed,
            "train_pairs": len(decisions),
            "split": "query-disjoint 70/15/15 (split_by_query)",
        },
        "selection": {
            "helper": args.helper,
            "folds": args.folds,
            "keep_ratio_target": args.keep_ratio,
            "mislabel": args.mislabel,
            "kept": len(keys),
            "keep_ratio": round(len(keys) / len(decisions), 4),
            "counts": sel["counts"],
            "helper_oof_accuracy": {
                h: v["oof_accuracy"] for h, v in sel["helpers"].items() if "oof_accuracy" in v
            },
            "wall_seconds_this_call": sel_seconds,
            "wall_seconds_recorded": sel["wall_seconds"],
        },
        "students": {},
    }
    runs = {"all": None, "selected": keys, "random": random_keys}
    for name in args.only.split(","):
        sub = "all" if name == "all" else f"{name}_{tag}"
        folder = variant(data, work / "variants" / sub, runs[name])
        report["students"][name] = train_student(folder, work / "students" / sub, args)
        print(json.dumps({name: report["students"][name]}), flush=True)
    s = report["students"]
    if "all" in s:
        for name in ("selected", "random"):
            if name in s:
                report[f"{name}_minus_all"] = {
                    m: (
                        None
                        if s[name][m] is None or s["all"][m] is None
                        else round(s[name][m] - s["all"][m], 4)
                    )
                    for m in METRICS
                }
                report[f"{name}_minus_all_test_decided"] = {
                    m: (
                        None
                        if s[name]["test_decided"][m] is None or s["all"]["test_decided"][m] is None
                        else round(s[name]["test_decided"][m] - s["all"]["test_decided"][m], 4)
                    )
                    for m in METRICS
                }
    print(json.dumps(report, indent=2, default=str))
    (work / f"report_{tag}.json").write_text(json.dumps(report, indent=2, default=str))


if __name__ == "__main__":
    main()
