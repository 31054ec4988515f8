"""Training and scoring speed in float32 vs bfloat16 on this machine, in one run, on the same inputs.

What is measured (one process, one torch thread unless ``--threads``; fp32 and bf16 are timed
alternately, step by step, so that load from other processes hits both alike; the first call of
each is a warm-up and is not timed; medians are reported):

- ``train_lora``: one AdamW step of the SFT judge's LoRA (SmolLM2-135M, r=16 on the last
  ``--top-layers`` decoder layers, the demo's placement) on ``--batch`` × ``--tokens`` random token
  ids, causal-LM loss on every token. bf16 = ``torch.autocast("cpu", torch.bfloat16)`` over the
  forward pass with fp32 master weights, which is what transformers/accelerate do for
  ``bf16=True`` on a CPU (``SFTRunConfig.precision: bf16``).
- ``train_cross_encoder``: one AdamW step of a full fine-tune of the distill stage's student
  (MiniLM-L6 cross-encoder, 4 grade logits, all weights trainable) on ``--ce-batch`` real sample
  pairs at ``--ce-length`` tokens; bf16 = autocast as above.
- ``score``: the judge's one-pass grade probabilities (``ecomrel.llm.scorer.score_pairs``, query
  prefix sharing on, as ``ecomrel judge`` runs) on ``--queries`` × ``--per-query`` sample pairs;
  the baseline is float32 weights, against bfloat16 weights (``JudgeConfig.dtype: bfloat16``) and
  float32 weights under autocast. Tokens/s counts the tokens the model actually runs (after
  sharing). Agreement: share of pairs with the same argmax grade as float32, and the largest
  absolute gap in any grade probability.

On a CPU without AVX512-BF16/AMX bfloat16 is emulated and far slower; the inputs are then reduced
(LoRA 2 × 64 tokens, cross-encoder 8 × 64, 2 × 4 scored pairs, one timed round) unless
``--full-size``.

Prints one JSON object (speed-ups are bf16 tokens/s over fp32 tokens/s; ``cpu_seconds`` is this
process's CPU time for the same step, which shows how much a loaded machine stretched the wall time).

    /work/tools/heavy .venv/bin/python benchmarks/precision_speed.py \
        [--tokens 128 --batch 8 --steps 3 --queries 6 --per-query 8 --threads 1]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import time

os.environ.setdefault("ECOMREL_NO_PROGRESS", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def _autocast(on: bool):
    import torch

    return torch.autocast("cpu", dtype=torch.bfloat16) if on else contextlib.nullcontext()


def _alternate(step, rounds: int) -> dict[str, list[float]]:
    """Call ``step(bf16)`` for fp32 and bf16 alternately; first call of each is a warm-up."""
    times: dict[str, list[float]] = {"fp32": [], "bf16": [], "fp32_cpu": [], "bf16_cpu": []}
    for r in range(rounds + 1):
        for name in ("fp32", "bf16"):
            t0, c0 = time.perf_counter(), time.process_time()
            step(name == "bf16")
            if r:
                times[name].append(time.perf_counter() - t0)
                times[f"{name}_cpu"].append(time.process_time() - c0)
    return times


def _speed(times: dict[str, list[float]], tokens: int) -> dict[str, object]:
    out: dict[str, object] = {}
    for name in ("fp32", "bf16"):
        med = statistics.median(times[name])
        out[name] = {
            "seconds": round(med, 3),
            "tokens_per_s": round(tokens / med, 1),
            "cpu_seconds": round(statistics.median(times[f"{name}_cpu"]), 3),
            "all_seconds": [round(t, 3) for t in times[name]],
        }
    out["bf16_speedup"] = round(out["fp32"]["seconds"] / out["bf16"]["seconds"], 2)  # type: ignore[index]
    return out


def bench_lora(args) -> dict[str, object]:
    import torch
    from peft import get_peft_model

    from ecomrel.llm.models import load_model
    from ecomrel.train.common import LoRASettings, lora_config

    model, tok = load_model("smollm2", threads=args.threads)
    model.train()
    settings = LoRASettings(r=16, alpha=32, dropout=0.0, top_layers=args.top_layers)
    model = get_peft_model(model, lora_config(settings, model))
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-5)
    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(100, len(tok) - 100, (args.batch, args.tokens), generator=gen)
    losses: dict[str, float] = {}

    def step(bf16: bool) -> None:
        with _autocast(bf16):
            loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        losses["bf16" if bf16 else "fp32"] = float(loss.detach())

    res = _speed(_alternate(step, args.steps), args.batch * args.tokens)
    res.update(
        batch=args.batch,
        tokens_per_example=args.tokens,
        lora={"r": 16, "top_layers": args.top_layers},
        last_loss=losses,
    )
    return res


def _sample_pairs(args):
    import numpy as np

    from ecomrel.data.sample import generate_sample

    ds = generate_sample(n_products=600, n_queries=60, seed=0)
    pairs = ds.pairs()
    queries = pairs["query_id"].drop_duplicates().to_numpy()
    rng = np.random.default_rng(0)
    chosen = rng.permutation(queries)
    rows = []
    for q in chosen:
        grp = pairs[pairs["query_id"] == q]
        if len(grp) >= args.per_query:
            rows.append(grp.head(args.per_query))
        if len(rows) == args.queries:
            break
    import pandas as pd

    return pd.concat(rows, ignore_index=True)


def bench_cross_encoder(args, pairs) -> dict[str, object]:
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from ecomrel.student.model import default_student_base
    from ecomrel.student.recipe import StudentRecipe

    torch.manual_seed(0)
    base = default_student_base()
    tok = AutoTokenizer.from_pretrained(base, local_files_only=True)
    model = AutoModelForSequenceClassification.from_pretrained(base, num_labels=4, local_files_only=True)
    model.train()
    recipe = StudentRecipe(max_length=args.ce_length)
    rows = pairs.head(args.ce_batch)
    enc = tok(
        rows["query"].astype(str).tolist(),
        [recipe.product_text(r) for r in rows.to_dict("records")],
        truncation="longest_first",
        max_length=args.ce_length,
        padding="max_length",
        return_tensors="pt",
    )
    labels = torch.tensor(rows["grade"].astype(int).tolist())
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5)

    def step(bf16: bool) -> None:
        with _autocast(bf16):
            logits = model(**enc).logits
        loss = torch.nn.functional.cross_entropy(logits.float(), labels)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    res = _speed(_alternate(step, args.steps), args.ce_batch * args.ce_length)
    res.update(batch=args.ce_batch, tokens_per_example=args.ce_length, model="MiniLM-L6 (full fine-tune)")
    return res


def bench_score(args, pairs) -> dict[str, object]:
    import numpy as np
    import torch

    from ecomrel.llm.models import load_model
    from ecomrel.llm.prompts import encode, load_template, prompts_for_pairs
    from ecomrel.llm.scorer import score_pairs, sharing_stats

    m32, tok = load_model("smollm2", dtype=torch.float32, threads=args.threads)
    m16, _ = load_model("smollm2", dtype=torch.bfloat16, threads=args.threads)
    prompts = prompts_for_pairs(pairs, tok, template=load_template())
    ids = [encode(tok, p) for p in prompts]
    stats = sharing_stats(ids, pairs["query"].astype(str).tolist())
    n_tokens = stats["tokens_shared"]
    probs: dict[str, np.ndarray] = {}
    variants = {
        "fp32": (m32, False),
        "bf16_weights": (m16, False),
        "bf16_autocast": (m32, True),
    }
    times: dict[str, list[float]] = {k: [] for k in variants}
    for r in range(args.score_rounds + 1):
        for name, (model, ac) in variants.items():
            t0 = time.perf_counter()
            with _autocast(ac):
                df = score_pairs(model, tok, pairs, batch_size=args.score_batch, share_prefix=True)
            if r:
                times[name].append(time.perf_counter() - t0)
            probs[name] = df[[f"p_{k}" for k in range(4)]].to_numpy()
    out: dict[str, object] = {
        "pairs": len(pairs),
        "tokens_run": n_tokens,
        "tokens_unshared": stats["tokens_unshared"],
        "batch_size": args.score_batch,
    }
    base = statistics.median(times["fp32"])
    for name, ts in times.items():
        med = statistics.median(ts)
        row: dict[str, object] = {
            "seconds": round(med, 3),
            "tokens_per_s": round(n_tokens / med, 1),
            "pairs_per_s": round(len(pairs) / med, 2),
            "all_seconds": [round(t, 3) for t in ts],
        }
        if name != "fp32":
            row["speedup_vs_fp32"] = round(base / med, 2)
            same = probs[name].argmax(1) == probs["fp32"].argmax(1)
            row["argmax_agreement"] = round(float(same.mean()), 4)
            row["max_prob_gap"] = round(float(np.abs(probs[name] - probs["fp32"]).max()), 4)
            row["mean_prob_gap"] = round(float(np.abs(probs[name] - probs["fp32"]).mean()), 4)
        out[name] = row
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--tokens", type=int, default=128, help="LoRA step: tokens per example")
    ap.add_argument("--batch", type=int, default=8, help="LoRA step: examples per step")
    ap.add_argument("--top-layers", type=int, default=6, help="LoRA on the last N decoder layers")
    ap.add_argument("--steps", type=int, default=3, help="timed steps per precision (after 1 warm-up)")
    ap.add_argument("--ce-batch", type=int, default=32, help="cross-encoder step: pairs per step")
    ap.add_argument("--ce-length", type=int, default=96, help="cross-encoder step: tokens per pair")
    ap.add_argument("--queries", type=int, default=6, help="scoring: queries")
    ap.add_argument("--per-query", type=int, default=8, help="scoring: judged products per query")
    ap.add_argument("--score-batch", type=int, default=16, help="scoring: rows per forward pass")
    ap.add_argument("--score-rounds", type=int, default=2, help="timed scoring rounds per variant")
    ap.add_argument(
        "--full-size", action="store_true", help="keep the input sizes on a CPU without native bf16"
    )
    args = ap.parse_args()

    import torch

    from ecomrel.train.common import cpu_supports_bf16

    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    supported = cpu_supports_bf16()
    reduced = None
    if not supported and not args.full_size:
        # bf16 is emulated without AVX512-BF16/AMX (7-25x slower): smaller inputs keep the run short
        args.batch, args.tokens, args.steps = 2, 64, 1
        args.ce_batch, args.ce_length = 8, 64
        args.queries, args.per_query, args.score_rounds = 2, 4, 1
        reduced = "CPU without AVX512-BF16/AMX: inputs reduced (--full-size to keep them)"
    pairs = _sample_pairs(args)
    report = {
        "benchmark": "precision_speed",
        "baseline": "fp32",
        "threads": args.threads,
        "cpu_supports_bf16": supported,
        "reduced_inputs": reduced,
        "torch": torch.__version__,
        "score": bench_score(args, pairs),
        "train_lora": bench_lora(args),
        "train_cross_encoder": bench_cross_encoder(args, pairs),
    }
    report["wall_seconds"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
