"""GRPO effect on the SmolLM2 judge (issue 17, TaoSR1 stage 3): start model vs + GRPO with
difficulty-based dynamic sampling vs + GRPO without it, same steps, same dev pairs, one run.

- ``start``: the start model (``--adapter``: an SFT/DPO LoRA adapter merged into the base; else the
  base SmolLM2), greedy answers on the dev pairs. The named baseline.
- ``grpo_dynamic``: :func:`ecomrel.train.grpo_trainer.run_grpo` from the start model, in rounds of K
  steps; before each round every training prompt's pass rate is estimated with G samples of the
  current policy and only prompts with ``0 < #correct < G`` are kept, then class-balanced (CV 0).
- ``grpo_static``: the same run (same seed, steps, LoRA, rewards, class balance) on every training
  prompt: no pass-rate estimate, no filter.

Every variant is evaluated on the same dev pairs (a seeded sample of the dev split) by
:func:`ecomrel.train.grpo_trainer.evaluate_answers`: greedy generation of ``--eval-tokens`` tokens,
the leading grade parsed, metrics from :mod:`ecomrel.eval` (accuracy, macro-F1, per-grade F1 or
recall), the malformed share (a malformed answer counts as grade 0) and the discriminative-
hallucination rate (:func:`ecomrel.train.rewards.hallucination_stats`; NaN when no answer's
reasoning states a verdict, which is what short completions give). Each GRPO variant also reports
its reward curve (trl's mean reward per step), kept share and CV before/after per round, and times.

Data: ``sample`` = :func:`ecomrel.data.sample.write_sample` (default size, its own query-disjoint
splits); ``homedepot`` = the CSV imported with :func:`ecomrel.data.sources.import_source`, split by
query (seed 0, 0.8 / 0.2). Training prompts: a seeded sample of ``--train-prompts`` train pairs.

    /work/tools/heavy .venv/bin/python benchmarks/grpo_effect.py --data sample --train-prompts 48 \
        --dev-pairs 64 --steps 8 --resample-every 4 --out runs/grpo_effect

Prints one JSON object and writes it to ``<out>/grpo_effect.json`` after every variant; run again
with the same arguments, it keeps the variants already finished (``resumed``) and runs the rest.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("ECOMREL_NO_PROGRESS", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

log = logging.getLogger("grpo_effect")
HD_FRACTIONS = {"train": 0.8, "dev": 0.2}


def prepare_data(args: argparse.Namespace, work: Path) -> Path:
    from ecomrel.data.schema import Dataset

    folder = work / f"{args.data}_data"
    if (folder / "judgments.parquet").exists():
        return folder
    if args.data == "sample":
        from ecomrel.data.sample import write_sample

        write_sample(folder, seed=args.seed)
    else:
        from ecomrel.data.sources import import_source
        from ecomrel.data.splits import split_by_query

        if not args.homedepot_csv:
            raise SystemExit("--data homedepot needs --homedepot-csv PATH")
        import_source("homedepot", args.homedepot_csv, folder)
        ds = Dataset.load(folder)
        ds.splits = split_by_query(ds.queries, HD_FRACTIONS, seed=args.seed)
        ds.save(folder)
    return folder


def grpo_config(args: argparse.Namespace, data: Path, out: Path, dynamic: bool):
    from ecomrel.train.grpo_config import GRPORunConfig

    return GRPORunConfig.model_validate(
        {
            "base_model": args.model,
            "adapter": args.adapter,
            "data": str(data),
            "split": "train",
            "max_prompts": args.train_prompts,
            "max_steps": args.steps,
            "seed": args.seed,
            "precision": args.precision,
            "resume": False,
            "lora": {"r": 8, "alpha": 16, "dropout": 0.0, "top_layers": args.top_layers},
            "rewards": {"correct": 1.0, "format": 0.25, "consistency": 0.25},
            "sampling": {
                "dynamic": dynamic,
                "resample_every": args.resample_every,
                "max_new_tokens": args.estimate_tokens,
                "balance": True,
                "target_cv": 0.0,
            },
            "training_args": {
                "num_generations": args.num_generations,
                "per_device_train_batch_size": args.num_generations * args.prompts_per_step,
                "max_completion_length": args.completion_tokens,
                "learning_rate": args.lr,
                "beta": args.beta,
                "temperature": 1.0,
            },
            "eval_split": "dev",
            "eval_max_pairs": args.dev_pairs,
            "eval_max_new_tokens": args.eval_tokens,
            "output_dir": str(out),
        }
    )


def variant_row(result: dict[str, Any]) -> dict[str, Any]:
    from ecomrel.train.grpo_trainer import read_steps

    steps = read_steps(result["output_dir"])
    return {
        **result["eval"]["metrics"],
        "reward_curve": [round(float(v), 4) for v in steps["reward"]] if len(steps) else [],
        "kl_curve": [round(float(v), 5) for v in steps["kl"]] if "kl" in steps else [],
        "frac_reward_zero_std": [round(float(v), 3) for v in steps["frac_reward_zero_std"]]
        if "frac_reward_zero_std" in steps
        else [],
        "rounds": [
            {
                k: r.get(k)
                for k in (
                    "round",
                    "kept_share",
                    "cv_before",
                    "cv_after",
                    "pool_size",
                    "all_right",
                    "all_wrong",
                    "mean_pass_rate",
                    "fallback",
                    "estimate_seconds",
                )
            }
            for r in result["rounds"]
        ],
        "steps": result["steps"],
        "train_seconds": round(result["train_seconds"], 1),
        "estimate_seconds": round(result["estimate_seconds"], 1),
        "steps_file": result["steps_file"],
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", choices=("sample", "homedepot"), default="sample")
    p.add_argument("--homedepot-csv", default=None)
    p.add_argument("--model", default="smollm2")
    p.add_argument("--adapter", default=None, help="SFT/DPO adapter of the start model (merged).")
    p.add_argument("--train-prompts", type=int, default=48)
    p.add_argument("--dev-pairs", type=int, default=64)
    p.add_argument("--steps", type=int, default=8)
    p.add_argument("--resample-every", type=int, default=4)
    p.add_argument("--num-generations", type=int, default=4)
    p.add_argument("--prompts-per-step", type=int, default=2)
    p.add_argument("--completion-tokens", type=int, default=8)
    p.add_argument("--eval-tokens", type=int, default=16)
    p.add_argument("--estimate-tokens", type=int, default=6, help="Tokens per pass-rate sample.")
    p.add_argument("--lr", type=float, default=5e-5)
    p.add_argument("--beta", type=float, default=0.02)
    p.add_argument("--top-layers", type=int, default=4)
    p.add_argument("--precision", default="auto")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="runs/grpo_effect")
    args = p.parse_args(argv)
    logging.basicConfig(level=os.environ.get("ECOMREL_LOG", "WARNING"))

    import torch

    from ecomrel.grades import DEFAULT_SCALE
    from ecomrel.llm.models import load_model
    from ecomrel.train.common import resolve_precision
    from ecomrel.train.grpo_trainer import evaluate_answers, pair_prompts, run_grpo

    torch.set_num_threads(int(os.environ.get("ECOMREL_THREADS", "1")))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t_all = time.perf_counter()
    data = prepare_data(args, out)

    report: dict[str, Any] = {
        "benchmark": "grpo_effect",
        "data": args.data,
        "model": args.model,
        "start_adapter": args.adapter,
        "precision": resolve_precision(args.precision),
        "settings": {k: v for k, v in vars(args).items() if k not in ("out",)},
        "baseline": "start",
        "variants": {},
        "complete": False,
    }

    previous = out / "grpo_effect.json"
    if previous.exists():  # a run cut short (e.g. by a time limit): keep the variants it finished
        old = json.loads(previous.read_text())
        if old.get("settings") == report["settings"]:
            report["variants"] = old.get("variants", {})
            report.update({k: old[k] for k in ("dev_pairs", "dev_grades") if k in old})
            report["resumed"] = sorted(report["variants"])

    def dump() -> None:
        (out / "grpo_effect.json").write_text(json.dumps(report, indent=2, default=str))

    # start model on the dev pairs (the same seeded sample run_grpo evaluates)
    if "start" not in report["variants"]:
        t0 = time.perf_counter()
        model, tok = load_model(args.model, adapter=args.adapter, merge_adapter=args.adapter is not None)
        dev = pair_prompts(data, "dev", tok, DEFAULT_SCALE, args.dev_pairs, args.seed)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=report["precision"] == "bf16"):
            start = evaluate_answers(
                model,
                tok,
                dev["prompt"].tolist(),
                dev["gold_grade"].tolist(),
                max_new_tokens=args.eval_tokens,
            )
        report["dev_pairs"] = len(dev)
        report["dev_grades"] = {
            str(k): int(v) for k, v in dev["gold_grade"].value_counts().sort_index().items()
        }
        report["variants"]["start"] = {**start["metrics"], "eval_seconds": round(time.perf_counter() - t0, 1)}
        del model
        dump()

    for name, dynamic in (("grpo_dynamic", True), ("grpo_static", False)):
        if name in report["variants"]:
            continue
        cfg = grpo_config(args, data, out / name, dynamic)
        result = run_grpo(cfg)
        report["variants"][name] = variant_row(result)
        dump()

    base = report["variants"]["start"]
    for name in ("grpo_dynamic", "grpo_static"):
        row = report["variants"][name]
        row["vs_start"] = {
            k: round(float(row[k]) - float(base[k]), 4)
            for k in ("f1_macro", "accuracy", "malformed_rate")
            if k in row and k in base
        }
    report["wall_seconds"] = round(time.perf_counter() - t_all, 1)
    report["complete"] = True
    dump()
    print(json.dumps(report, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
