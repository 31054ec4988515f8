"""Home Depot on two files: train on one CSV, evaluate on another of new queries — CLI == Python API.

The most common job of a relevance team, end to end without writing Python. ``train.csv`` of the
Kaggle Home Depot data is split *by query* into two CSV files (80/20, seed 0; ``--queries N`` first
takes a seeded sample of N whole queries so that the run fits in minutes), then the same job runs
twice, once as the CLI sequence below (subprocess) and once as the equivalent Python calls::

    ecomrel data import homedepot train.csv --out cli/data --split train --dev 0.1 --seed 0
    ecomrel data import homedepot test.csv  --out cli/data --split test
    ecomrel baseline bm25 --data cli/data --out cli/baselines
    ecomrel train distill --data cli/data --out cli/student --human-only --epochs E --set seed=0
    ecomrel calibrate --model cli/student --data cli/data --split dev
    ecomrel predict --model cli/student --data cli/data --split test --out cli/pred/student.parquet
    ecomrel predict --model cli/baselines/bm25_thresholds.json --data cli/data --split test \
        --out cli/pred/bm25.parquet
    ecomrel eval --data cli/data --pred cli/pred/student.parquet --split test --raw-scale calibrated \
        --out cli/metrics.json --stage student
    (and the same eval for bm25 and for the student with --raw-scale linear)

It prints one JSON object: the split (files, queries, pairs, product-id conflicts), the CLI and
API metrics of each row and whether they are equal, and on the test file the student's
**argmax vs saved cut points** (macro-F1; the cut points are tuned on the dev queries carved
out of the train file) and the **linear 1 + 2·E/3 map vs the saved isotonic calibration**
(RMSE on the 1–3 scale, ``raw_rmse``), with the bm25 baseline as the named baseline. Same
student, same epochs, same dev pairs for both decisions.

``--split-only --all-queries --out runs/homedepot_files`` only writes the two files that
``examples/homedepot.yaml`` reads.

Command (the figures in the report)::

    /work/tools/heavy .venv/bin/python benchmarks/homedepot_two_files.py --queries 1000 --epochs 1

Metrics are ecomrel.eval's; nothing is hard-coded. The student is MiniLM-L6 (the packaged body),
human grades only (no teacher), fp32 on this CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CSV = REPO.parent / "shared" / "data" / "homedepot" / "train.csv"


def split_files(csv: Path, out: Path, n_queries: int | None, seed: int, test_share: float) -> dict:
    """Write ``train.csv`` and ``test.csv`` with disjoint queries (query identity as the importer's)."""
    from ecomrel.data.sources import query_id_for

    df = pd.read_csv(csv, encoding="utf-8", dtype=str, keep_default_na=False)
    qid = df["search_term"].map(query_id_for)
    queries = np.array(sorted(qid.unique()))
    queries = queries[np.random.default_rng(seed).permutation(len(queries))]
    if n_queries is not None:
        queries = queries[:n_queries]
    n_test = int(round(test_share * len(queries)))
    test_q, train_q = set(queries[:n_test]), set(queries[n_test:])
    out.mkdir(parents=True, exist_ok=True)
    files = {}
    for name, chosen in (("train", train_q), ("test", test_q)):
        part = df[qid.isin(chosen)]
        part.to_csv(out / f"{name}.csv", index=False)
        files[name] = {"file": str(out / f"{name}.csv"), "queries": len(chosen), "rows": len(part)}
    return files


def cli(*args: str) -> str:
    exe = Path(sys.executable).with_name("ecomrel")
    res = subprocess.run([str(exe), *args], capture_output=True, text=True, env=os.environ.copy())
    if res.returncode != 0:
        raise SystemExit(f"ecomrel {' '.join(args)} failed ({res.returncode}):\n{res.stdout}\n{res.stderr}")
    return res.stdout


def run_cli(root: Path, files: dict, epochs: float, seed: int, dev: float) -> dict:
    d, b, s, p = root / "data", root / "baselines", root / "student", root / "pred"
    p.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    cli("data", "import", "homedepot", files["train"]["file"], "--out", str(d), "--split", "train",
        "--dev", str(dev), "--seed", str(seed))  # fmt: skip
    cli("data", "import", "homedepot", files["test"]["file"], "--out", str(d), "--split", "test")
    cli("baseline", "bm25", "--data", str(d), "--out", str(b))
    cli("train", "distill", "--data", str(d), "--out", str(s), "--human-only", "--epochs", str(epochs),
        "--set", f"seed={seed}")  # fmt: skip
    cli("calibrate", "--model", str(s), "--data", str(d), "--split", "dev")
    cli(
        "predict", "--model", str(s), "--data", str(d), "--split", "test", "--out", str(p / "student.parquet")
    )
    cli("predict", "--model", str(b / "bm25_thresholds.json"), "--data", str(d), "--split", "test",
        "--out", str(p / "bm25.parquet"))  # fmt: skip
    metrics = root / "metrics.json"
    for stage, pred, scale in (
        ("bm25", "bm25", "calibrated"),
        ("student", "student", "calibrated"),
        ("student_linear", "student", "linear"),
    ):
        cli("eval", "--data", str(d), "--pred", str(p / f"{pred}.parquet"), "--split", "test",
            "--raw-scale", scale, "--out", str(metrics), "--stage", stage)  # fmt: skip
    rows = json.loads(metrics.read_text())
    return {"seconds": round(time.perf_counter() - t0, 1), "rows": rows, "data": d, "pred": p, "student": s}


def run_api(root: Path, files: dict, epochs: float, seed: int, dev: float) -> dict:
    from ecomrel.baselines import run_baseline
    from ecomrel.data.sources import import_source
    from ecomrel.eval import evaluate
    from ecomrel.predict import calibrate, run_predict
    from ecomrel.train.distill_config import DistillConfig
    from ecomrel.train.distill_trainer import run_distill

    d, b, s, p = root / "data", root / "baselines", root / "student", root / "pred"
    t0 = time.perf_counter()
    reports = [
        import_source("homedepot", files["train"]["file"], d, split="train", dev=dev, seed=seed),
        import_source("homedepot", files["test"]["file"], d, split="test"),
    ]
    run_baseline("bm25", d, b)
    run_distill(
        DistillConfig(
            data_dir=d, out=s, human_only=True, seed=seed, training_args={"num_train_epochs": epochs}
        )
    )
    cal = calibrate(s, d, "dev")
    run_predict(s, d, p / "student.parquet", "test")
    run_predict(b / "bm25_thresholds.json", d, p / "bm25.parquet", "test")
    rows = {
        stage: evaluate(d, p / f"{pred}.parquet", split="test", raw_scale=scale).flat()
        for stage, pred, scale in (
            ("bm25", "bm25", "calibrated"),
            ("student", "student", "calibrated"),
            ("student_linear", "student", "linear"),
        )
    }
    return {
        "seconds": round(time.perf_counter() - t0, 1),
        "rows": rows,
        "imports": [r.to_dict() for r in reports],
        "calibrate": cal,
        "data": d,
        "pred": p,
    }


def _close(a: object, b: object, tol: float) -> bool:
    a, b = (float("nan") if v is None else v for v in (a, b))  # JSON writes NaN as null
    if isinstance(a, int | float) and isinstance(b, int | float):
        return bool(np.isclose(float(a), float(b), rtol=0, atol=tol, equal_nan=True))
    return a == b


def compare(cli_rows: dict, api_rows: dict, tol: float) -> dict:
    out = {}
    for stage, api in api_rows.items():
        got = {k: v for k, v in cli_rows.get(stage, {}).items() if isinstance(v, int | float)}
        keys = sorted(k for k, v in api.items() if isinstance(v, int | float))
        diff = {k: (got.get(k), api[k]) for k in keys if not _close(got.get(k), api[k], tol)}
        out[stage] = {"equal": not diff, "n_metrics": len(keys), "differ": diff}
    return out


def decisions_effect(data: Path, pred: Path) -> dict:
    """argmax vs saved cut points (macro-F1) and linear vs isotonic (raw_rmse on 1–3) on test."""
    from ecomrel.eval import evaluate

    student = pd.read_parquet(pred / "student.parquet")
    argmax = student.assign(pred_grade=student["argmax_grade"])
    m_cut = evaluate(data, student, split="test", raw_scale="calibrated").flat()
    m_arg = evaluate(data, argmax, split="test", raw_scale="linear").flat()
    bm25 = evaluate(data, pred / "bm25.parquet", split="test", raw_scale="calibrated").flat()
    pick = ("f1_macro", "f1_weighted", "accuracy", "recall_complement", "raw_rmse", "rmse", "ndcg@10")
    return {
        "student_argmax_linear": {k: m_arg.get(k) for k in pick},
        "student_cuts_isotonic": {k: m_cut.get(k) for k in pick},
        "bm25_cuts_isotonic (baseline)": {k: bm25.get(k) for k in pick},
        "macro_f1": {"argmax": m_arg["f1_macro"], "saved_cut_points": m_cut["f1_macro"]},
        "raw_rmse_1_3": {"linear_1+2E/3": m_arg["raw_rmse"], "saved_isotonic": m_cut["raw_rmse"]},
        "argmax_predicts_grade_1": int((student["argmax_grade"] == 1).sum()),
        "cuts_predict_grade_1": int((student["pred_grade"] == 1).sum()),
        "n_test_pairs": len(student),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--csv", type=Path, default=DEFAULT_CSV, help="Home Depot train.csv")
    ap.add_argument("--out", type=Path, default=REPO / "runs" / "homedepot_two_files")
    ap.add_argument("--queries", type=int, default=600, help="seeded sample of whole queries (None: all)")
    ap.add_argument("--all-queries", action="store_true", help="use every query of the file")
    ap.add_argument("--epochs", type=float, default=1.0)
    ap.add_argument("--dev", type=float, default=0.1, help="share of the train file's queries used as dev")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--split-only", action="store_true", help="only write OUT/train.csv and OUT/test.csv")
    ap.add_argument("--tol", type=float, default=1e-6, help="CLI vs API: max absolute difference per metric")
    args = ap.parse_args()
    if not args.csv.is_file():
        raise SystemExit(f"{args.csv}: not found (the Home Depot train.csv)")
    n_queries = None if args.all_queries else args.queries
    if args.split_only:  # the two files examples/homedepot.yaml reads
        print(json.dumps(split_files(args.csv, args.out, n_queries, args.seed, 0.2), indent=1))
        return
    if args.out.exists():
        shutil.rmtree(args.out)
    files = split_files(args.csv, args.out / "files", n_queries, args.seed, 0.2)
    cli_run = run_cli(args.out / "cli", files, args.epochs, args.seed, args.dev)
    api_run = run_api(args.out / "api", files, args.epochs, args.seed, args.dev)
    cmp = compare(cli_run["rows"], api_run["rows"], args.tol)
    same_pred = {
        name: bool(
            pd.read_parquet(cli_run["pred"] / f"{name}.parquet").equals(
                pd.read_parquet(api_run["pred"] / f"{name}.parquet")
            )
        )
        for name in ("student", "bm25")
    }
    test_report = api_run["imports"][1]
    print(
        json.dumps(
            {
                "benchmark": "homedepot_two_files",
                "subset": f"{'all' if args.all_queries else args.queries} queries of {args.csv.name} "
                f"(seed {args.seed}), split 80/20 by query into two files; dev = {args.dev:.0%} of the "
                "train file's queries",
                "files": files,
                "splits": {r["split"]: r["splits"] for r in api_run["imports"]},
                "product_conflicts_test_file": test_report["product_conflicts"],
                "epochs": args.epochs,
                "cli_equals_api": {"metrics": cmp, "prediction_files_identical": same_pred},
                "decisions": {
                    k: api_run["calibrate"].get(k)
                    for k in (
                        "cuts",
                        "objective_value",
                        "argmax_objective_value",
                        "calibration_pairs",
                        "n_pairs",
                    )
                },
                "test": decisions_effect(api_run["data"], api_run["pred"]),
                "seconds": {"cli": cli_run["seconds"], "api": api_run["seconds"]},
            },
            indent=1,
            default=str,
        )
    )


if __name__ == "__main__":
    main()
