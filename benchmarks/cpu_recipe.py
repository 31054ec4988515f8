"""Does each learned stage earn its place on a CPU? The demo recipe's key comparison, in one run.

Reads the stage options from ``examples/demo_recipe.yaml`` (``options.judge``, ``options.sft``,
``options.distill``: the same mappings the demo's stages take), builds the built-in sample
catalogue (2,400 products, 500 queries, seed 0; or ``--data`` an existing data folder with splits)
and measures, on the test split:

1. the zero-shot judge vs the SFT judge (label-only LoRA on class-balanced train pairs) on the
   **same** ``judge.limit`` test pairs (whole queries, seeded), both scored with the judge's
   one-pass grade probabilities (``ecomrel.llm.judge.run_judge``; the SFT judge with ``adapter=``
   and the SFT template); BM25 and TF-IDF re-scored on that subset;
2. the MiniLM student trained on human grades alone vs distilled (the SFT judge's grade
   distributions on ``sft.train_limit`` train pairs + the human grades, KL + CE) vs BM25 and
   TF-IDF, on every test pair.

Metrics from ``ecomrel.eval.evaluate``: macro-F1, weighted F1, NDCG@10, ECE, RMSE; with wall and
CPU seconds per step. Prints one JSON object; ``--skip`` leaves parts out (``sft``,
``distill``, ``zero_shot``).

    /work/tools/heavy .venv/bin/python benchmarks/cpu_recipe.py --out runs/cpu_recipe \
        [--recipe examples/demo_recipe.yaml] [--data DIR] [--skip zero_shot]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("ECOMREL_NO_PROGRESS", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

METRICS = ("f1_macro", "f1_weighted", "ndcg@10", "ece", "rmse")
STAGE_ONLY = ("limit", "train_limit")


class Clock:
    """Wall and CPU seconds of one step."""

    def __enter__(self) -> Clock:
        self.w, self.c = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = round(time.perf_counter() - self.w, 1)
        self.cpu = round(time.process_time() - self.c, 1)

    def row(self) -> dict[str, float]:
        return {"wall_s": self.wall, "cpu_s": self.cpu}


def _metrics(data: Path, predictions: str | Path, queries: set[str] | None = None) -> dict[str, float]:
    from ecomrel.eval import evaluate

    flat = evaluate(data, predictions, split="test", queries=queries).flat()
    return {k: round(float(flat[k]), 4) for k in METRICS if k in flat}


def _queries(scores: str | Path) -> set[str]:
    import pandas as pd

    return set(pd.read_parquet(scores, columns=["query_id"])["query_id"].astype(str))


def build_data(out: Path, data: str | None) -> Path:
    if data:
        return Path(data)
    from ecomrel.data.sample import generate_sample
    from ecomrel.data.splits import split_by_query

    folder = out / "data"
    if not (folder / "splits.parquet").exists():
        ds = generate_sample(n_products=2400, n_queries=500, seed=0, noise=0.1)
        ds.splits = split_by_query(ds.queries, seed=0)
        ds.save(folder)
    return folder


def judge(data: Path, out: Path, opts: dict[str, Any], split: str, limit: int, adapter=None, **extra):
    from ecomrel.llm.judge import run_judge
    from ecomrel.llm.judge_config import JudgeConfig

    fields = {"model": "smollm2", "threads": 1, **{k: v for k, v in opts.items() if k not in STAGE_ONLY}}
    fields.update(extra)
    config = JudgeConfig(data=data, out=out, split=split, limit=limit, adapter=adapter, **fields)
    return run_judge(config)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--recipe", default="examples/demo_recipe.yaml")
    ap.add_argument("--out", default="runs/cpu_recipe")
    ap.add_argument(
        "--data", default=None, help="existing data folder with splits (default: build the sample)"
    )
    ap.add_argument("--skip", default="", help="comma list of parts to leave out: zero_shot,sft,distill")
    args = ap.parse_args()
    skip = set(filter(None, args.skip.split(",")))

    import torch
    import yaml

    torch.set_num_threads(1)
    recipe = yaml.safe_load(Path(args.recipe).read_text())["options"]
    judge_opts = dict(recipe.get("judge", {}))
    sft_opts = dict(recipe.get("sft", {}))
    distill_opts = dict(recipe.get("distill", {}))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {"benchmark": "cpu_recipe", "recipe": args.recipe, "baseline": "bm25"}
    data = build_data(out, args.data)

    from ecomrel.baselines import run_baseline

    baselines = {}
    with Clock() as c:
        for method in ("bm25", "tfidf"):
            baselines[method] = run_baseline(
                method, data, out / "baselines", tune_split="dev", eval_split="test"
            )["predictions"]
    report["baselines_time"] = c.row()
    rows: dict[str, dict[str, Any]] = {m: _metrics(data, p) for m, p in baselines.items()}

    limit = int(judge_opts.get("limit", 150))
    train_limit = int(sft_opts.get("train_limit", 0))  # the SFT judge is the teacher
    subset_rows: dict[str, dict[str, Any]] = {}
    if "zero_shot" not in skip:
        zs_opts = judge_opts
        with Clock() as c:
            zs = judge(data, out / "judge_zero_shot", zs_opts, "test", limit)
        subset = _queries(zs["scores"])
        subset_rows["judge_zero_shot"] = {**_metrics(data, zs["scores"], subset), **c.row()}
        for m, p in baselines.items():
            subset_rows[f"{m}@judge_subset"] = _metrics(data, p, subset)

    teacher = None
    if "sft" not in skip:
        from ecomrel.train.sft_config import demo_config
        from ecomrel.train.sft_trainer import run_sft

        train = dict(sft_opts.get("train", {}))
        train.setdefault("resume", False)
        config = demo_config(data, out / "sft" / "model", **train)
        with Clock() as c:
            result = run_sft(config)
        sft_train = {**c.row(), "steps": result["steps"], "train_loss": result["train_loss"]}
        template = train.get("template") or judge_opts.get("template", "judge_v1")
        with Clock() as c:
            scored = judge(
                data, out / "judge_sft", judge_opts, "test", limit, result["adapter"], template=template
            )
        subset = _queries(scored["scores"])
        subset_rows["judge_sft"] = {
            **_metrics(data, scored["scores"], subset),
            "score": c.row(),
            "train": sft_train,
        }
        if train_limit:
            with Clock() as c:
                t = judge(
                    data,
                    out / "judge_sft_train",
                    judge_opts,
                    "train",
                    train_limit,
                    result["adapter"],
                    template=template,
                )
            teacher = Path(t["scores"])
            report["teacher_scoring"] = {**c.row(), "pairs": train_limit}
    report["judge_subset"] = subset_rows

    if "distill" not in skip:
        from ecomrel.train.distill_config import DistillConfig
        from ecomrel.train.distill_trainer import run_distill

        train = dict(distill_opts.get("train", {}))
        variants: dict[str, dict[str, Any]] = {"student_human_only": {"mode": "human_only"}}
        if teacher is not None:
            variants["student_distilled"] = {"mode": "distill", "teacher": teacher}
        for name, extra in variants.items():
            config = DistillConfig(data_dir=data, out=out / name, eval_split="test", **{**train, **extra})
            with Clock() as c:
                res = run_distill(config, force=True)
            rows[name] = {
                **_metrics(data, res["predictions"]),
                **c.row(),
                "train_rows": res["counts"].get("train_rows"),
            }
    report["test_split"] = rows
    for name in ("student_human_only", "student_distilled"):
        if name in rows:
            report.setdefault("margins", {})[name] = {
                f"{k}_vs_{b}": round(rows[name][k] - rows[b][k], 4)
                for b in ("bm25", "tfidf")
                for k in ("f1_macro", "ndcg@10")
            }
    if {"judge_sft", "judge_zero_shot"} <= set(subset_rows):
        report.setdefault("margins", {})["judge_sft"] = {
            f"{k}_vs_zero_shot": round(subset_rows["judge_sft"][k] - subset_rows["judge_zero_shot"][k], 4)
            for k in ("f1_macro", "f1_weighted", "ndcg@10")
        }
    print(json.dumps(report, indent=2, default=str))


if __name__ == "__main__":
    main()
