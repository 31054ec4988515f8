"""Does DPO de-bias the SFT judge? SFT vs SFT + DPO(beam, LREF) vs SFT + DPO(pass@N, TaoSR1), one run.

1. **SFT** (the named baseline, ``sft``): a short label-only LoRA SFT of SmolLM2 (bf16 autocast,
   LoRA on the top layers) on ``--sft-pairs`` training pairs — or ``--sft-adapter`` to start from
   an adapter trained elsewhere.
2. **DPO(beam)**: :func:`ecomrel.train.dpo_trainer.run_dpo` with ``pairs: beam``: beam top-k over
   the SFT judge's label answers on ``--mine-prompts`` training pairs; rejected = the wrong top beam,
   chosen = the highest-ranked beam with the gold grade.
3. **DPO(pass@N)**: the same with ``pairs: pass_at_n``: N samples at a temperature; chosen = the most
   confident correct sample, rejected = the most confident wrong one; all N wrong → chosen = the
   oracle answer for the gold grade (the gold label: the judge answers label-only).

Both DPO runs start from the same SFT adapter (the reference), mine the same training prompts,
use α = 0.65 as the weight of the SFT term (trl ``loss_type=[sigmoid, sft]``) and are evaluated
on the same dev pairs through ``ecomrel.eval`` (grade probabilities at the answer position):
optimistic-bias rate (share of pairs over-graded, and share of the errors that over-grade),
per-grade recall, macro/weighted F1, ECE. The pair statistics are printed beside the papers'
figures (LREF §1.5: ~70% of errors optimistic, gold in the beam for ~80%, usually rank 2;
TaoSR1 §3.4: pass@1..5 = 67.4 .. 81.7%).

    /work/tools/heavy .venv/bin/python benchmarks/dpo_effect.py --data sample --out runs/dpo_effect \
        [--sft-steps 40 --sft-pairs 320 --mine-prompts 256 --dev-pairs 200 --dpo-steps 24]

``--generation grade_tokens`` reads the beams / samples from the grade distribution at the answer
position instead of generating (exact for a label-only judge restricted to the grade labels; one
forward pass per prompt). ``--sft-adapter`` reuses an SFT adapter (e.g. an earlier run's
``<out>/sft/adapter`` on the same data). ``--data homedepot`` imports
``/work/shared/data/homedepot/train.csv`` (split by query, seed 0) instead of the sample catalogue.
Prints one JSON object (also ``<out>/dpo_effect.json``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("ECOMREL_NO_PROGRESS", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

SHOWN = (
    "f1_macro",
    "f1_weighted",
    "accuracy",
    "optimistic_rate",
    "pessimistic_rate",
    "optimistic_error_share",
    "ece",
)


def prepare_data(args, out: Path) -> Path:
    from ecomrel.data.schema import Dataset
    from ecomrel.data.splits import split_by_query

    folder = out / f"data_{args.data}"
    if (folder / "splits.parquet").exists():
        return folder
    if args.data == "sample":
        from ecomrel.data.sample import write_sample

        write_sample(folder, seed=args.seed)
    else:
        from ecomrel.data.sources import import_source

        import_source("homedepot", args.homedepot_csv, folder)
        ds = Dataset.load(folder)
        ds.splits = split_by_query(ds.queries, {"train": 0.8, "dev": 0.2}, seed=args.seed)
        ds.save(folder)
    return folder


def sft_config(args, data: Path, out: Path):
    """A short label-only SFT (LoRA on the top layers, bf16 autocast) in whichever SFT config shape exists."""
    from ecomrel.train.sft_config import SFTRunConfig

    fields: dict[str, Any] = {
        "base_model": args.model,
        "data": str(data),
        "output_dir": str(out / "sft"),
        "curriculum": "label_only",
        "max_pairs": args.sft_pairs,
        "lora": {"r": 16, "alpha": 32, "dropout": 0.0, "top_layers": args.top_layers},
        "precision": "auto",
        "seed": args.seed,
    }
    optim = {
        "max_steps": args.sft_steps,
        "learning_rate": args.sft_lr,
        "per_device_train_batch_size": 8,
        "save_steps": 1000,
        "logging_steps": 5,
    }
    if "training_args" in SFTRunConfig.model_fields:  # engineer A's layout: library fields pass through
        fields["training_args"] = {**optim, "max_length": 1024}
    else:
        fields.update(
            max_steps=optim["max_steps"],
            learning_rate=optim["learning_rate"],
            batch_size=8,
            save_steps=1000,
            logging_steps=5,
        )
        fields["max_length"] = 1024
    return SFTRunConfig.model_validate(fields)


def dpo_config(args, data: Path, adapter: str, method: str, out: Path):
    from ecomrel.train.dpo_config import DPORunConfig

    return DPORunConfig.model_validate(
        {
            "base_model": args.model,
            "sft_adapter": adapter,
            "reference": "adapter_copy",
            "pairs": method,
            "data": str(data),
            "split": "train",
            "max_prompts": args.mine_prompts,
            "beam": {"k": args.k},
            "sampling": {"n": args.n, "temperature": args.temperature, "seed": args.seed},
            "max_new_tokens": 2,  # label + EOS: the judge answers label-only
            "generation_batch_size": 8,
            "generation": args.generation,
            "answer_text": "label",
            "oracle": "label",
            "alpha": args.alpha,
            "training_args": {
                "max_steps": args.dpo_steps,
                "per_device_train_batch_size": 4,
                "learning_rate": args.dpo_lr,
                "beta": args.beta,
                "logging_steps": 2,
                "save_steps": 1000,
            },
            "precision": "auto",
            "eval_split": "dev",
            "eval_max_pairs": args.dev_pairs,
            "score_batch_size": 16,
            "output_dir": str(out / f"dpo_{method}"),
            "seed": args.seed,
        }
    )


def _row(m: dict[str, Any] | None) -> dict[str, Any]:
    if not m:
        return {}
    row = {k: m.get(k) for k in SHOWN}
    row.update({k: v for k, v in m.items() if k.startswith("recall_")})
    return row


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", choices=("sample", "homedepot"), default="sample")
    ap.add_argument("--homedepot-csv", default="/work/shared/data/homedepot/train.csv")
    ap.add_argument("--out", default="runs/dpo_effect")
    ap.add_argument("--model", default="smollm2")
    ap.add_argument("--sft-adapter", help="start from this SFT adapter instead of training one here")
    ap.add_argument("--sft-steps", type=int, default=40)
    ap.add_argument("--sft-pairs", type=int, default=320)
    ap.add_argument("--sft-lr", type=float, default=3e-4)
    ap.add_argument("--top-layers", type=int, default=6)
    ap.add_argument("--mine-prompts", type=int, default=256)
    ap.add_argument("--dev-pairs", type=int, default=200)
    ap.add_argument("--k", type=int, default=4)
    ap.add_argument("--n", type=int, default=5)
    ap.add_argument("--temperature", type=float, default=1.0)
    ap.add_argument("--dpo-steps", type=int, default=24)
    ap.add_argument("--dpo-lr", type=float, default=5e-5)
    ap.add_argument("--beta", type=float, default=0.1)
    ap.add_argument("--alpha", type=float, default=0.65)
    ap.add_argument("--methods", default="beam,pass_at_n")
    ap.add_argument(
        "--generation",
        choices=("generate", "grade_tokens"),
        default="generate",
        help="beams/samples by transformers generate (2 new tokens), or read from the grade distribution",
    )
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    import torch

    from ecomrel.train.common import resolve_precision
    from ecomrel.train.dpo_trainer import run_dpo

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    data = prepare_data(args, out)
    timings: dict[str, float] = {"data_seconds": round(time.perf_counter() - t0, 1)}

    sft_result: dict[str, Any] = {}
    if args.sft_adapter:
        adapter = args.sft_adapter
    else:
        from ecomrel.train.sft_trainer import run_sft

        t = time.perf_counter()
        sft_result = run_sft(sft_config(args, data, out))
        timings["sft_seconds"] = round(time.perf_counter() - t, 1)
        adapter = sft_result["adapter"]

    runs: dict[str, dict[str, Any]] = {}
    sft_eval: dict[str, Any] | None = None
    for method in [m.strip() for m in args.methods.split(",") if m.strip()]:
        cfg = dpo_config(args, data, adapter, method, out)
        first = next(iter(runs.values()), None)
        if first is not None:  # the SFT judge on the same dev pairs: scored once, reused
            src, dst = Path(first["output_dir"]) / "eval", Path(cfg.output_dir) / "eval"
            dst.mkdir(parents=True, exist_ok=True)
            for name in ("sft_metrics.json", "sft_predictions.parquet"):
                if (src / name).exists() and not (dst / name).exists():
                    shutil.copy(src / name, dst / name)
        t = time.perf_counter()
        runs[method] = run_dpo(cfg)
        timings[f"dpo_{method}_seconds"] = round(time.perf_counter() - t, 1)
        sft_eval = sft_eval or runs[method]["eval"]["sft"]

    table = {"sft": _row(sft_eval)}
    for method, r in runs.items():
        table[f"sft+dpo({method})"] = _row(r["eval"]["dpo"])
    base = table["sft"]
    delta = {
        name: {
            k: (v - base[k]) if isinstance(v, float) and isinstance(base.get(k), float) else None
            for k, v in row.items()
        }
        for name, row in table.items()
        if name != "sft"
    }
    result = {
        "benchmark": "dpo_effect",
        "baseline": "sft",
        "data": args.data,
        "budget": {
            "device": "cpu",
            "torch_threads": torch.get_num_threads(),
            "precision": resolve_precision("auto"),
            "model": args.model,
            "sft": "given adapter"
            if args.sft_adapter
            else f"label-only LoRA, {args.sft_steps} steps x 8 pairs",
            "dpo_steps": args.dpo_steps,
            "dpo_batch_pairs": 4,
            "mine_prompts": args.mine_prompts,
            "dev_pairs": args.dev_pairs,
            "beam_k": args.k,
            "generation": args.generation,
            "pass_at_n": args.n,
            "temperature": args.temperature,
            "beta": args.beta,
            "alpha_sft_weight": args.alpha,
            "dpo_lr": args.dpo_lr,
            **timings,
            "total_seconds": round(time.perf_counter() - t0, 1),
        },
        "sft_train_loss": sft_result.get("train_loss"),
        "metrics": table,
        "delta_vs_sft": delta,
        "optimistic_rate_falls": {
            name: (
                row.get("optimistic_rate") is not None and row["optimistic_rate"] < base["optimistic_rate"]
            )
            for name, row in table.items()
            if name != "sft"
        },
        "pair_stats": {m: r["pair_stats"] for m, r in runs.items()},
        "dpo_training": {
            m: {
                k: r.get(k)
                for k in (
                    "n_pairs",
                    "pair_sources",
                    "steps",
                    "first_loss",
                    "final_loss",
                    "first_reward_margin",
                    "final_reward_margin",
                    "train_seconds",
                )
            }
            for m, r in runs.items()
        },
    }
    text = json.dumps(result, indent=2, default=str)
    (out / "dpo_effect.json").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
