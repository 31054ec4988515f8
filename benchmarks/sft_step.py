"""Seconds per SFT optimizer step and peak memory on the built-in SmolLM2, to size the demo's SFT stage.

Each variant runs in its own process (so that peak RSS is its own) with the SFT stage's trainer
arguments (:func:`ecomrel.train.sft_trainer.trainer_args`: trl SFTTrainer, AdamW, completion-only
loss). Examples are pre-tokenized to exactly ``--tokens`` tokens (the last 64 are
the completion) so that every step sees ``batch × tokens`` tokens. The first step (allocations,
first-touch) is excluded; the median of the next ``--steps`` is reported.

Variants: ``lora`` (r=16, all-linear, the default of SFTRunConfig), ``lora_topN`` (adapters on the
last N decoder layers only: ``lora.top_layers``) and the named baseline ``full`` (full fine-tuning);
ratios are against ``full``. Prints one JSON object.

    python benchmarks/sft_step.py [--tokens 256] [--batch 4] [--threads 1] [--steps 3] \
        [--variants lora,lora_top6,full]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("ECOMREL_NO_PROGRESS", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def run_variant(variant: str, tokens: int, batch: int, threads: int, steps: int) -> dict:
    import statistics

    import datasets
    import torch
    from transformers import PrinterCallback, TrainerCallback
    from trl import SFTTrainer

    from ecomrel.llm.models import load_model
    from ecomrel.train.sft_config import SFTRunConfig
    from ecomrel.train.sft_trainer import lora_config, peak_rss_mb, trainer_args

    torch.set_num_threads(threads)
    rss_before = peak_rss_mb()
    model, tok = load_model("smollm2", threads=threads)
    rss_loaded = peak_rss_mb()
    gen = torch.Generator().manual_seed(0)
    n = batch * (steps + 1)
    completion = 64
    rows = {
        "input_ids": torch.randint(100, len(tok) - 100, (n, tokens), generator=gen).tolist(),
        "completion_mask": [[0] * (tokens - completion) + [1] * completion] * n,
    }
    ds = datasets.Dataset.from_dict(rows)
    with tempfile.TemporaryDirectory() as tmp:
        cfg = SFTRunConfig(
            base_model="smollm2",
            examples="unused",
            finetune="full" if variant == "full" else "lora",
            training_args={
                "max_steps": steps + 1,
                "per_device_train_batch_size": batch,
                "max_length": tokens,
                "save_steps": 10_000,
                "logging_steps": 1,
            },
            precision="fp32",  # what this benchmark has always measured (benchmarks/precision_speed.py: bf16)
            num_threads=threads,
            output_dir=tmp,
        )
        stamps: list[float] = []

        class Clock(TrainerCallback):
            def on_step_begin(self, args, state, control, **kw):
                stamps.append(time.perf_counter())

            def on_train_end(self, args, state, control, **kw):
                stamps.append(time.perf_counter())

        if variant.startswith("lora_top"):
            cfg = cfg.model_copy(
                update={"lora": cfg.lora.model_copy(update={"top_layers": int(variant[8:])})}
            )
        peft = lora_config(cfg, model) if variant.startswith("lora") else None
        # the SFT stage's own trainer arguments; pre-tokenized rows go straight to trl
        trainer = SFTTrainer(
            model=model,
            args=trainer_args(cfg, Path(tmp)),
            train_dataset=ds,
            processing_class=tok,
            peft_config=peft,
            callbacks=[Clock()],
        )
        trainer.remove_callback(PrinterCallback)
        trainable = sum(p.numel() for p in trainer.model.parameters() if p.requires_grad)
        trainer.train()
    durations = [b - a for a, b in zip(stamps[:-1], stamps[1:], strict=True)]
    measured = durations[1:]
    return {
        "variant": variant,
        "tokens_per_example": tokens,
        "batch": batch,
        "threads": threads,
        "trainable_params": trainable,
        "first_step_s": round(durations[0], 3),
        "seconds_per_step": round(statistics.median(measured), 3),
        "steps_measured": [round(d, 3) for d in measured],
        "tokens_per_s": round(batch * tokens / statistics.median(measured), 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "rss_model_loaded_mb": round(rss_loaded, 1),
        "rss_start_mb": round(rss_before, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tokens", type=int, default=256)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--variants", default="lora,lora_top6,full")
    ap.add_argument("--one", help=argparse.SUPPRESS)  # internal: run one variant in this process
    args = ap.parse_args()
    if args.one:
        print(json.dumps(run_variant(args.one, args.tokens, args.batch, args.threads, args.steps)))
        return
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "ECOMREL_THREADS": str(args.threads)}
    results = {}
    for variant in args.variants.split(","):
        cmd = [
            sys.executable,
            __file__,
            "--one",
            variant,
            "--tokens",
            str(args.tokens),
            "--batch",
            str(args.batch),
            "--threads",
            str(args.threads),
            "--steps",
            str(args.steps),
        ]
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
        results[variant] = json.loads(out.strip().splitlines()[-1])
    report = {"benchmark": "sft_step", "model": "smollm2 (SmolLM2-135M-Instruct, fp32)", "results": results}
    if "full" in results:
        base = results["full"]
        report["vs_full"] = {
            v: {
                "step_time_ratio": round(r["seconds_per_step"] / base["seconds_per_step"], 3),
                "peak_rss_ratio": round(r["peak_rss_mb"] / base["peak_rss_mb"], 3),
            }
            for v, r in results.items()
            if v != "full"
        }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
