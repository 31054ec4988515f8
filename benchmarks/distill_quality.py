"""Distilled student vs its teacher vs human labels, and vs the human-labels-only student (the baseline).

Prints JSON. Scenario (Walmart / LREF): human grades exist for only part of the training queries
(``--label-share``), the judge has scored every training pair; the distilled student learns the
judge's distributions on all of them (KL) plus the human grade where there is one (CE); the
baseline is the same MiniLM student trained on the same human grades alone. A reference student
trained on *all* human grades of the training queries is reported too. Evaluation is on the dev
split's human grades, and on the sample catalogue also on its noise-free ``true_grade``.

Teacher: with ``--data``, ``--teacher <scores.parquet>`` (the LLM judge's prediction file). For the
built-in sample catalogue and ``--homedepot``, a documented STAND-IN (an LLM judge good enough to
teach needs GPU-scale fine-tuning):

- sample catalogue: a *noisy-truth* judge. For each pair the distribution centres on the true
  grade with probability 0.85, else on an adjacent grade (upwards with probability 0.65: LREF's
  optimistic bias); p ~ Dirichlet(0.5 + 8·[centre] + 1.5·[neighbours of centre]).
- Home Depot: *soft human labels*: p_k ∝ exp(-(x - k)² / 2·0.5²) where x is the rater mean mapped
  piecewise-linearly onto the grade axis (1→0, 1.5→0.5, 2→1.5, 2.5→2.5, 3→3). This is not an LLM;
  it shows what soft targets and the unlabeled widening do with a teacher that is as good as the
  raters.

With ``--data DIR --teacher FILE`` the dataset is an existing data folder with splits (e.g. the
Home Depot query subset of ``benchmarks/homedepot_ranker.py --save-data``) and the teacher is a
real judge prediction file covering its pairs (``ecomrel judge`` output): the LLM as teacher.

Usage::

    python benchmarks/distill_quality.py --work runs/distill_quality --homedepot ../shared/data/homedepot
    python benchmarks/distill_quality.py --work runs/dq_llm --no-sample --data runs/hd1000 \
        --teacher runs/hd1000/judge/scores.parquet
    python benchmarks/distill_quality.py --work runs/dq --prepare-only     # data + teacher, no training
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd

from ecomrel.data.schema import Dataset


def noisy_truth_teacher(truth: np.ndarray, seed: int = 0, accuracy: float = 0.85) -> np.ndarray:
    """Stand-in LLM judge on the sample catalogue: (n, 4) distributions around a noisy true grade."""
    rng = np.random.default_rng(seed)
    centre = truth.astype(int).copy()
    wrong = rng.random(len(centre)) > accuracy
    up = rng.random(len(centre)) < 0.65
    step = np.where(up, 1, -1)
    step = np.where(centre == 0, 1, np.where(centre == 3, -1, step))
    centre[wrong] += step[wrong]
    alpha = np.full((len(centre), 4), 0.5)
    alpha[np.arange(len(centre)), centre] += 8.0
    for d in (-1, 1):
        nb = centre + d
        ok = (nb >= 0) & (nb <= 3)
        alpha[np.flatnonzero(ok), nb[ok]] += 1.5
    return np.vstack([rng.dirichlet(a) for a in alpha])


def rater_mean_teacher(raw: np.ndarray, sigma: float = 0.5) -> np.ndarray:
    """Stand-in teacher on Home Depot: a soft distribution around the rater mean on the grade axis."""
    x = np.interp(raw, [1.0, 1.5, 2.0, 2.5, 3.0], [0.0, 0.5, 1.5, 2.5, 3.0])
    logits = -((x[:, None] - np.arange(4)[None, :]) ** 2) / (2 * sigma**2)
    p = np.exp(logits - logits.max(1, keepdims=True))
    return p / p.sum(1, keepdims=True)


def _hide_labels(ds: Dataset, label_share: float, seed: int) -> Dataset:
    """Keep human grades for ``label_share`` of the train queries (dev/test untouched)."""
    rng = np.random.default_rng(seed)
    train_q = np.array(sorted(ds.split_queries("train")))
    keep = set(rng.choice(train_q, size=max(1, int(round(label_share * len(train_q)))), replace=False))
    j = ds.judgments
    hidden = j["query_id"].isin(set(train_q) - keep)
    return Dataset(ds.products, ds.queries, j[~hidden].reset_index(drop=True), ds.engagement, ds.splits)


def prepare(work: Path, name: str, ds: Dataset, probs: np.ndarray, label_share: float, seed: int) -> dict:
    """Write ``<name>/full`` (all grades), ``<name>/partial`` (label_share graded), teacher."""
    root = work / name
    if (root / "teacher.parquet").exists():
        return {"name": name, "prepared": "reused"}
    ds.save(root / "full")
    _hide_labels(ds, label_share, seed).save(root / "partial")
    t = ds.judgments[["query_id", "product_id"]].copy()
    for k in range(4):
        t[f"p_{k}"] = probs[:, k]
    t["expected_grade"] = probs @ np.arange(4)
    t["score"] = t["expected_grade"]
    t["pred_grade"] = probs.argmax(1)
    t.to_parquet(root / "teacher.parquet", index=False)
    return {"name": name, "pairs": len(t), "prepared": "new"}


def prepare_sample(work: Path, seed: int, label_share: float, n_products: int, n_queries: int) -> dict:
    from ecomrel.data.sample import generate_sample
    from ecomrel.data.splits import split_by_query

    if (work / "sample" / "teacher.parquet").exists():
        return {"name": "sample", "prepared": "reused"}
    ds = generate_sample(n_products=n_products, n_queries=n_queries, seed=seed, noise=0.1)
    ds.splits = split_by_query(ds.queries, seed=seed)
    probs = noisy_truth_teacher(ds.judgments["true_grade"].to_numpy(), seed=seed)
    return prepare(work, "sample", ds, probs, label_share, seed)


def prepare_homedepot(work: Path, path: Path, seed: int, label_share: float, max_queries: int | None) -> dict:
    from ecomrel.data.sources import import_source
    from ecomrel.data.splits import split_by_query

    if (work / "homedepot" / "teacher.parquet").exists():
        return {"name": "homedepot", "prepared": "reused"}
    tmp = work / "homedepot" / "_import"
    import_source("homedepot", path, tmp)
    ds = Dataset.load(tmp)
    if max_queries is not None and len(ds.queries) > max_queries:  # CPU budget: a random query subset
        keep = set(ds.queries["query_id"].sample(max_queries, random_state=seed))
        ds.queries = ds.queries[ds.queries["query_id"].isin(keep)].reset_index(drop=True)
        ds.judgments = ds.judgments[ds.judgments["query_id"].isin(keep)].reset_index(drop=True)
        ds.products = ds.products[ds.products["product_id"].isin(set(ds.judgments["product_id"]))]
    ds.splits = split_by_query(ds.queries, seed=seed)
    raw = ds.judgments["raw_score"].to_numpy(dtype=float)
    out = prepare(work, "homedepot", ds, rater_mean_teacher(raw), label_share, seed)
    shutil.rmtree(tmp, ignore_errors=True)
    return out


def prepare_folder(work: Path, data: Path, teacher: Path, label_share: float, seed: int) -> dict:
    """An existing data folder (with splits) and a judge prediction file as the teacher."""
    from ecomrel.train.distill_trainer import load_teacher

    name = data.name
    if (work / name / "teacher.parquet").exists():
        return {"name": name, "prepared": "reused"}
    ds = Dataset.load(data)
    if ds.splits is None:
        raise SystemExit(f"{data}: needs splits.parquet")
    t, invalid = load_teacher(teacher, 4)
    j = ds.judgments[["query_id", "product_id"]].astype(str)
    merged = j.merge(t, on=["query_id", "product_id"], how="left")
    missing = int(merged["p_0"].isna().sum())
    if missing:
        raise SystemExit(f"{teacher}: no teacher probabilities for {missing} of {len(j)} judged pairs")
    probs = merged[[f"p_{k}" for k in range(4)]].to_numpy()
    return {**prepare(work, name, ds, probs, label_share, seed), "teacher_invalid_rows": invalid}


def train_all(work: Path, name: str, args: argparse.Namespace) -> dict:
    """Distilled (partial labels + teacher on all), baseline (partial labels), reference (all labels)."""
    from ecomrel.export.onnx import compare_variants, export_onnx
    from ecomrel.train.distill_config import DistillConfig
    from ecomrel.train.distill_trainer import build_frames, run_distill

    root = work / name
    teacher = root / "teacher.parquet"
    common = dict(
        base_model=args.base_model,
        training_args={
            "num_train_epochs": args.epochs,
            "per_device_train_batch_size": args.batch_size,
            "learning_rate": args.lr,
            "save_steps": 100,
        },
        precision=args.precision,
        device=args.device,
        seed=args.seed,
        num_threads=args.threads,
        eval_batch_size=256,
    )
    runs = {
        "distilled": DistillConfig(
            data_dir=root / "partial", teacher=teacher, out=root / "distilled", **common
        ),
        "human_only": DistillConfig(
            data_dir=root / "partial", teacher=teacher, human_only=True, out=root / "human_only", **common
        ),
        "human_only_all_labels": DistillConfig(
            data_dir=root / "full", teacher=teacher, human_only=True, out=root / "human_only_all", **common
        ),
    }
    if args.no_reference:
        del runs["human_only_all_labels"]
    out: dict = {}
    for run, cfg in runs.items():
        t0 = time.perf_counter()
        res = run_distill(cfg)
        out[run] = {
            "metrics": res["metrics"],
            "counts": res["counts"],
            "seconds": round(time.perf_counter() - t0, 1),
        }
        print(json.dumps({name: {run: out[run]}}), flush=True)
    d, b = out["distilled"]["metrics"], out["human_only"]["metrics"]
    out["distilled_minus_human_only"] = {
        ref: {
            m: round(d[ref][m] - b[ref][m], 4)
            for m in ("f1_macro", "f1_weighted", "accuracy", "rmse", "ndcg@10")
        }
        for ref in ("student@human", "student@truth")
        if ref in d and ref in b
    }
    if not args.no_export:
        info = export_onnx(root / "distilled" / "model", root / "distilled" / "onnx")
        _, ev, _ = build_frames(runs["distilled"])
        cmp = compare_variants(
            root / "distilled" / "onnx", ev["query"].tolist(), ev["product"].tolist(), threads=args.threads
        )
        out["int8_vs_fp32_dev"] = {**cmp, "fp32_mb": info["fp32_mb"], "int8_mb": info["int8_mb"]}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, default=Path("runs/distill_quality"))
    ap.add_argument("--no-sample", action="store_true", help="Skip the sample catalogue.")
    ap.add_argument(
        "--homedepot", type=Path, default=None, help="Home Depot train.csv folder (../shared/data/homedepot)."
    )
    ap.add_argument("--teacher", default=None, help="Judge prediction file for the --data folder.")
    ap.add_argument(
        "--label-share", type=float, default=0.4, help="Share of train queries with human grades."
    )
    ap.add_argument("--n-products", type=int, default=2400)
    ap.add_argument("--n-queries", type=int, default=500)
    ap.add_argument("--base-model", default=None, help="Student body folder (default: packaged MiniLM-L6).")
    ap.add_argument("--epochs", type=float, default=3.0)
    ap.add_argument(
        "--precision", default="fp32", choices=["auto", "fp32", "bf16"], help="fp32: as the README figures"
    )
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=6e-5)
    ap.add_argument("--device", default=None)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--hd-queries", type=int, default=None, help="Use a random subset of Home Depot queries.")
    ap.add_argument(
        "--no-reference", action="store_true", help="Skip the all-human-labels reference student."
    )
    ap.add_argument("--data", type=Path, default=None, help="An existing data folder (needs --teacher).")
    ap.add_argument("--prepare-only", action="store_true")
    ap.add_argument("--no-export", action="store_true")
    args = ap.parse_args()

    args.work.mkdir(parents=True, exist_ok=True)
    names = []
    report: dict = {
        "teacher": {"--data": args.teacher, "sample/homedepot": "stand-in (see module docstring)"},
        "label_share": args.label_share,
    }
    if not args.no_sample:
        report["prepare_sample"] = prepare_sample(
            args.work, args.seed, args.label_share, args.n_products, args.n_queries
        )
        names.append("sample")
    if args.homedepot is not None:
        report["prepare_homedepot"] = prepare_homedepot(
            args.work, args.homedepot, args.seed, args.label_share, args.hd_queries
        )
        names.append("homedepot")
    if args.data is not None:
        if not args.teacher:
            raise SystemExit("--data needs --teacher (a judge prediction file for its pairs)")
        report["prepare_data"] = prepare_folder(
            args.work, args.data, Path(args.teacher), args.label_share, args.seed
        )
        names.append(args.data.name)
    if not args.prepare_only:
        for name in names:
            report[name] = train_all(args.work, name, args)
    print(json.dumps(report, indent=2, default=str))
    (args.work / "report.json").write_text(json.dumps(report, indent=2, default=str))


if __name__ == "__main__":
    pd.set_option("display.width", 200)
    main()
