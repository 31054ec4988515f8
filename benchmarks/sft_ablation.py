"""Multi-CoT SFT ablation of the SmolLM2 judge (issues 4, 18): zero-shot vs label-only vs EE vs EE+RA vs
EE+RA+DR vs rag.

Every variant is scored on the same dev pairs with :func:`ecomrel.llm.scorer.score_pairs` and evaluated
with :func:`ecomrel.eval.evaluate.evaluate`; the named baseline is ``zero_shot`` (``vs_zero_shot``
holds each variant's macro-F1 / RMSE / optimistic rate ratios to it).

- ``zero_shot``: the base model, no training.
- ``label_only``: its own SFT run whose target is the grade alone (``curriculum: label_only``).
- ``ee`` / ``ee_ra`` / ``ee_ra_dr``: the three phase checkpoints of ONE sequential run (LREF §1.4):
  EE, then RA from the EE adapter, then DR from the RA adapter, whose chains are built from the RA
  model's own mistakes on the training pairs.
- ``rag``: its own one-phase SFT run on TaoSR1's retrieved-rule chains (``phases: [rag]``, issue 18):
  the packaged knowledge base's rules retrieved per pair, written into 5-step label-first chains
  citing the rule ids (:mod:`ecomrel.reason.rag_chains`), same pairs, same steps per phase.

On the sample, every variant also reports ``per_query_kind`` (accuracy, macro-F1, optimistic rate
on the dev pairs of each query kind: negation, alternative, question ...).

Data (query-disjoint): ``sample`` = :func:`ecomrel.data.sample.write_sample` at its default size and
its own train/dev splits; ``homedepot`` = the CSV imported with :func:`ecomrel.data.sources.import_source`
and split by query (seed 0, train 0.8 / dev 0.2). N train and M dev pairs are then drawn from the
splits: train by ``--train-sampling`` (default ``stratified``: proportional to the grade shares,
largest-remainder rounding), dev always ``stratified`` (the split's own grade distribution). The whole
product catalogue stays in the derived data folder: the attribute analyst learns its vocabulary from it.

Time and memory per variant: ``train_seconds`` is the SFT time of that run or phase only;
``cumulative_train_seconds`` adds the preceding phases (and, for DR, scoring the training pairs for
mistakes). ``peak_mem_mb`` is ``torch.cuda.max_memory_allocated`` on a GPU (reset at every phase
start) or the peak RSS on a CPU (Linux VmHWM, reset through ``/proc/self/clear_refs``).

    python benchmarks/sft_ablation.py --data sample --train-pairs 2000 --dev-pairs 1000 --epochs 1 \
        --out runs/ablation_sample [--device auto|cpu|cuda] [--model smollm2|PATH] [--model-gguf FILE]

Chains whose implied grade contradicts the human grade are corrected by default (``--on-conflict
correct``: the target's verdict becomes the human grade), so every trained variant sees the same pairs
and the grade token it learns is the same as label-only's; ``--on-conflict drop`` is LREF's filter
(on Home Depot it drops about 60 % of the EE/RA chains, mostly complement and exact pairs).

Prints one JSON object and writes it to ``<out>/ablation.json`` (rewritten after every variant, with
``"complete": false`` until the end).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("ECOMREL_NO_PROGRESS", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

log = logging.getLogger("sft_ablation")

VARIANTS = ("zero_shot", "label_only", "ee", "ee_ra", "ee_ra_dr", "rag")
PHASE_OF = {"ee": "1_ee", "ee_ra": "2_ra", "ee_ra_dr": "3_dr"}
HD_FRACTIONS = {"train": 0.8, "dev": 0.2}
METRICS = [
    "accuracy",
    "f1_macro",
    "f1_weighted",
    "precision",
    "recall",
    "mae",
    "rmse",
    "ece",
    "optimistic_rate",
    "pessimistic_rate",
]


# --- memory ---------------------------------------------------------------------------------------


class Memory:
    """Peak memory since the last ``reset``: CUDA max allocated, else the process's peak RSS."""

    def __init__(self, cuda: bool) -> None:
        self.cuda = cuda
        self.kind = "cuda_max_memory_allocated" if cuda else "cpu_peak_rss"

    def reset(self) -> None:
        if self.cuda:
            import torch

            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            return
        with contextlib.suppress(OSError):  # "5" resets VmHWM (Linux >= 4.0); ru_maxrss cannot be reset
            Path("/proc/self/clear_refs").write_text("5")

    def peak_mb(self) -> float:
        if self.cuda:
            import torch

            torch.cuda.synchronize()
            return torch.cuda.max_memory_allocated() / 2**20
        try:
            for line in Path("/proc/self/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
        except OSError:
            pass
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def phase_meter(memory: Memory):
    """A trainer callback that records, per phase folder, training seconds and peak memory."""
    from transformers import TrainerCallback

    class PhaseMeter(TrainerCallback):
        def __init__(self) -> None:
            self.records: dict[str, dict[str, float]] = {}
            self._t0 = 0.0

        def on_train_begin(self, args, state, control, **kw):
            memory.reset()
            self._t0 = time.perf_counter()

        def on_train_end(self, args, state, control, **kw):
            self.records[Path(args.output_dir).name] = {
                "train_seconds": time.perf_counter() - self._t0,
                "peak_mem_mb": memory.peak_mb(),
                "steps": state.global_step,
            }

    return PhaseMeter()


# --- data -----------------------------------------------------------------------------------------


def sample_pairs(pairs, n: int, how: str, seed: int):
    """``n`` pairs: ``uniform`` (simple random), ``stratified`` (grade shares kept) or ``balanced``."""
    import numpy as np
    import pandas as pd

    if n >= len(pairs):
        return pairs.reset_index(drop=True)
    if how == "uniform":
        return pairs.sample(n=n, random_state=seed).sort_index().reset_index(drop=True)
    counts = pairs["grade"].value_counts().sort_index()
    if how == "stratified":
        exact = counts / counts.sum() * n
        take = np.floor(exact).astype(int)
        for g in (exact - take).sort_values(ascending=False).index[: n - int(take.sum())]:
            take[g] += 1
    elif how == "balanced":  # equal per grade; what a small grade lacks goes to the larger ones
        take = pd.Series(0, index=counts.index)
        left, order = n, list(counts.sort_values().index)
        for i, g in enumerate(order):
            take[g] = min(int(counts[g]), left // (len(order) - i))
            left -= int(take[g])
    else:
        raise ValueError(f"unknown sampling {how!r}")
    parts = [pairs[pairs["grade"] == g].sample(n=int(k), random_state=seed) for g, k in take.items() if k > 0]
    return pd.concat(parts).sort_index().reset_index(drop=True)


def prepare_data(args, work: Path) -> tuple[Path, Any, dict[str, Any]]:
    """(derived data folder with the sampled train/dev pairs, dev pairs frame, data report)."""
    from ecomrel.data.schema import Dataset
    from ecomrel.data.splits import split_by_query

    full = work / f"{args.data}_full"
    t0 = time.perf_counter()
    if args.data == "sample":
        from ecomrel.data.sample import write_sample

        write_sample(full, seed=args.seed)
        ds = Dataset.load(full)
    else:
        from ecomrel.data.sources import import_source

        if not args.homedepot_csv:
            raise SystemExit("--data homedepot needs --homedepot-csv PATH")
        import_source("homedepot", args.homedepot_csv, full)
        ds = Dataset.load(full)
        ds.splits = split_by_query(ds.queries, HD_FRACTIONS, seed=args.seed)
    prep_seconds = time.perf_counter() - t0

    train_all, dev_all = ds.pairs("train"), ds.pairs("dev")
    train = sample_pairs(train_all, args.train_pairs, args.train_sampling, args.seed)
    dev = sample_pairs(dev_all, args.dev_pairs, "stratified", args.seed)
    if "kind" in ds.queries.columns:
        kinds = ds.queries.set_index("query_id")["kind"]
        dev["query_kind"] = dev["query_id"].map(kinds).to_numpy()
    keys = set(zip(train["query_id"], train["product_id"], strict=True)) | set(
        zip(dev["query_id"], dev["product_id"], strict=True)
    )
    j = ds.judgments
    j = j[[k in keys for k in zip(j["query_id"], j["product_id"], strict=True)]]
    qids = set(j["query_id"])
    derived = Dataset(
        products=ds.products,  # the whole catalogue: the analyst's vocabulary comes from it
        queries=ds.queries[ds.queries["query_id"].isin(qids)],
        judgments=j,
        splits=ds.splits[ds.splits["query_id"].isin(qids)],
    )
    folder = work / f"{args.data}_ablation"
    derived.save(folder)
    overlap = set(train["query_id"]) & set(dev["query_id"])
    if overlap:
        raise RuntimeError(f"train and dev share {len(overlap)} queries: the split is not query-disjoint")

    def grades(df) -> dict[str, int]:
        return {str(int(g)): int(n) for g, n in df["grade"].value_counts().sort_index().items()}

    report = {
        "data": args.data,
        "prepare_seconds": round(prep_seconds, 2),
        "available": {"train_pairs": len(train_all), "dev_pairs": len(dev_all)},
        "train_pairs": len(train),
        "dev_pairs": len(dev),
        "train_queries": int(train["query_id"].nunique()),
        "dev_queries": int(dev["query_id"].nunique()),
        "train_grades": grades(train),
        "dev_grades": grades(dev),
        "train_sampling": args.train_sampling,
        "dev_sampling": "stratified",
        "products_in_catalogue": len(ds.products),
        "query_disjoint": True,
    }
    return folder, dev, report


# --- scoring --------------------------------------------------------------------------------------


def evaluate_model(model, tokenizer, dev, batch_size: int, memory: Memory) -> dict[str, Any]:
    """Score the dev pairs and compute the classification metrics (plus true-grade ones on the sample)."""
    import torch

    from ecomrel.eval.evaluate import evaluate
    from ecomrel.llm.scorer import score_pairs

    judged_cols = [c for c in ("query_id", "product_id", "grade", "true_grade", "raw_score") if c in dev]
    judged = dev[judged_cols].copy()
    if "raw_score" in judged and judged["raw_score"].isna().all():
        judged = judged.drop(columns=["raw_score"])
    memory.reset()
    t0 = time.perf_counter()
    with torch.no_grad():
        scores = score_pairs(model, tokenizer, dev, batch_size=batch_size)
    seconds = time.perf_counter() - t0
    peak = memory.peak_mb()
    pred = scores.copy()
    pred["score"] = pred["expected_grade"]
    metrics = list(METRICS) + (["raw_rmse"] if "raw_score" in judged else [])
    rep = evaluate(judged, pred, metrics=metrics, name="sft_ablation")
    out: dict[str, Any] = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in rep.metrics.items()}
    out["confusion"] = {t: df.to_dict(orient="index") for t, df in rep.confusion.items()}
    out["pred_grade_counts"] = {
        str(int(g)): int(n) for g, n in pred["pred_grade"].value_counts().sort_index().items()
    }
    if "query_kind" in dev.columns:
        per_kind = {}
        for kind, grp in dev.groupby("query_kind", sort=True):
            sub = evaluate(
                judged,
                pred,
                metrics=["accuracy", "f1_macro", "optimistic_rate"],
                name=f"sft_ablation/{kind}",
                queries=set(grp["query_id"]),
            )
            per_kind[str(kind)] = {"n": len(grp), **{k: round(float(v), 4) for k, v in sub.metrics.items()}}
        out["per_query_kind"] = per_kind
    out["eval_seconds"] = round(seconds, 2)
    out["eval_pairs_per_s"] = round(len(dev) / seconds, 1) if seconds > 0 else None
    out["eval_peak_mem_mb"] = round(peak, 1)
    return out


def load_for_eval(model_name: str, adapter: Path | None, device: str):
    from ecomrel.llm.models import load_model

    return load_model(model_name, adapter=adapter, device=device, merge_adapter=adapter is not None)


def free(*objs) -> None:
    import gc

    import torch

    del objs
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


# --- training -------------------------------------------------------------------------------------


def token_stats(examples_file: Path, tokenizer, max_length: int) -> dict[str, Any]:
    """Token lengths of one phase's examples (prompt + completion), and how many exceed max_length."""
    import numpy as np
    import pandas as pd

    from ecomrel.llm.prompts import encode

    if not examples_file.exists():
        return {}
    ex = pd.read_parquet(examples_file, columns=["prompt", "completion"])
    p = np.array([len(encode(tokenizer, t)) for t in ex["prompt"]])
    c = np.array([len(encode(tokenizer, t)) for t in ex["completion"]])
    total = p + c + 1
    return {
        "prompt_tokens_mean": round(float(p.mean()), 1),
        "completion_tokens_mean": round(float(c.mean()), 1),
        "tokens_mean": round(float(total.mean()), 1),
        "tokens_p95": int(np.percentile(total, 95)),
        "tokens_max": int(total.max()),
        "n_prompt_over_max_length": int((p >= max_length).sum()),
        "n_truncated": int((total > max_length).sum()),
    }


def sft_config(args, data_dir: Path, out: Path, curriculum: str, chain_config: Path, cuda: bool):
    from ecomrel.train.sft_config import SFTRunConfig

    return SFTRunConfig.model_validate(
        {
            "base_model": args.model,
            "data": str(data_dir),
            "split": "train",
            "output_dir": str(out),
            "curriculum": curriculum,
            "phases": ["ee", "ra", "dr"],
            "chain_config": str(chain_config),
            "dr_source": "model",
            "score_batch_size": args.score_batch_size,
            "training_args": {
                "num_train_epochs": args.epochs,
                "max_steps": args.max_steps if args.max_steps else -1,
                "learning_rate": args.lr,
                "per_device_train_batch_size": args.batch_size,
                "gradient_accumulation_steps": 1,
                "max_length": args.max_length,
                "save_steps": 100_000,  # final adapters only: checkpoint I/O is not what is measured
                "save_total_limit": 1,
                "logging_steps": 10,
            },
            "precision": args.precision,
            "lora": {
                "r": args.lora_r,
                "alpha": 2 * args.lora_r,
                "dropout": 0.05,
                "top_layers": args.top_layers,
            },
            "resume": False,
            "seed": args.seed,
            "num_threads": None if cuda else args.threads,
        }
    )


def run_training(args, cfg, memory: Memory) -> tuple[dict[str, Any], dict[str, dict[str, float]]]:
    from ecomrel.train.sft_trainer import run_sft

    meter = phase_meter(memory)
    result = run_sft(cfg, callbacks=[meter])
    return result, meter.records


# --- main -----------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", choices=("sample", "homedepot"), required=True)
    ap.add_argument("--homedepot-csv", help="Home Depot train.csv (id, product_uid, product_title, ...)")
    ap.add_argument("--train-pairs", type=int, default=2000)
    ap.add_argument("--dev-pairs", type=int, default=1000)
    ap.add_argument("--train-sampling", choices=("stratified", "balanced", "uniform"), default="stratified")
    ap.add_argument("--epochs", type=float, default=1.0)
    ap.add_argument("--max-steps", type=int, default=0, help="optimizer steps per phase (0 = from epochs)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    ap.add_argument("--model", default="smollm2", help="built-in name or a model folder")
    ap.add_argument(
        "--model-gguf", help="GGUF file for the built-in smollm2 (sets ECOMREL_SMOLLM2_GGUF; converted once)"
    )
    ap.add_argument("--batch-size", type=int, help="train batch (default 16 on cuda, 4 on cpu)")
    ap.add_argument("--score-batch-size", type=int, help="scoring batch (default 128 on cuda, 8 on cpu)")
    ap.add_argument("--max-length", type=int, default=1024)
    ap.add_argument("--lr", type=float, default=2e-4)
    ap.add_argument("--lora-r", type=int, default=16)
    ap.add_argument(
        "--top-layers", type=int, help="LoRA on the last N layers only (default: all on cuda, 6 on cpu)"
    )
    ap.add_argument(
        "--precision",
        choices=("auto", "fp32", "bf16"),
        default="auto",
        help="auto = bf16 on cuda and AVX512-BF16/AMX CPUs",
    )
    ap.add_argument(
        "--on-conflict",
        choices=("drop", "correct"),
        default="correct",
        help="chains whose implied grade contradicts the human grade: 'correct' (verdict rewritten to the "
        "human grade: every variant trains on the same pairs) or 'drop' (LREF's filter; on Home Depot it "
        "drops ~60%% of the chains)",
    )
    ap.add_argument("--ra-prompt-rules", choices=("relevant", "all"), default="relevant")
    ap.add_argument("--variants", default=",".join(VARIANTS), help="subset of " + ",".join(VARIANTS))
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (cpu runs)")
    ap.add_argument("--seed", type=int, default=0)
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    if args.device == "cpu":
        os.environ["CUDA_VISIBLE_DEVICES"] = ""  # before torch initialises CUDA: the trainer stays on CPU
    if args.model_gguf:
        if args.model != "smollm2":
            raise SystemExit("--model-gguf replaces the built-in smollm2's GGUF; use it with --model smollm2")
        gguf = Path(args.model_gguf).expanduser().resolve()
        if not gguf.is_file():
            raise SystemExit(f"--model-gguf {gguf}: no such file")
        os.environ["ECOMREL_SMOLLM2_GGUF"] = str(gguf)
    logging.basicConfig(level=os.environ.get("ECOMREL_LOG", "WARNING"), stream=sys.stderr)

    import torch

    cuda = torch.cuda.is_available() and args.device != "cpu"
    if args.device == "cuda" and not cuda:
        raise SystemExit("--device cuda: no CUDA device visible")
    device = "cuda" if cuda else "cpu"
    if not cuda:
        torch.set_num_threads(args.threads)
        os.environ.setdefault("ECOMREL_THREADS", str(args.threads))
    args.batch_size = args.batch_size or (16 if cuda else 4)
    args.score_batch_size = args.score_batch_size or (128 if cuda else 8)
    if args.top_layers is None and not cuda:
        args.top_layers = 6
    wanted = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = set(wanted) - set(VARIANTS)
    if unknown:
        raise SystemExit(f"unknown variant(s) {sorted(unknown)}; known: {', '.join(VARIANTS)}")

    t_start = time.perf_counter()
    out = Path(args.out)
    work = out / "work"
    work.mkdir(parents=True, exist_ok=True)
    memory = Memory(cuda)
    data_dir, dev, data_report = prepare_data(args, work)
    chain_config = work / "chains.yaml"
    chain_config.write_text(
        f"on_conflict: {args.on_conflict}\nra_prompt_rules: {args.ra_prompt_rules}\nseed: {args.seed}\n"
    )

    from transformers import AutoTokenizer

    from ecomrel.llm.models import resolve_model

    t0 = time.perf_counter()
    resolved, _ = resolve_model(args.model)  # converts the GGUF once (cached) before anything is timed
    convert_seconds = time.perf_counter() - t0

    report: dict[str, Any] = {
        "benchmark": "sft_ablation",
        "baseline": "zero_shot",
        "model": args.model,
        "model_folder": resolved,
        "device": torch.cuda.get_device_name(0) if cuda else "cpu",
        "torch": torch.__version__,
        "memory_kind": memory.kind,
        "settings": {
            k: getattr(args, k)
            for k in (
                "epochs",
                "max_steps",
                "batch_size",
                "score_batch_size",
                "max_length",
                "lr",
                "lora_r",
                "top_layers",
                "precision",
                "on_conflict",
                "ra_prompt_rules",
                "seed",
            )
        },
        "data": data_report,
        "model_convert_seconds": round(convert_seconds, 2),
        "variants": {},
    }
    variants: dict[str, dict[str, Any]] = report["variants"]

    def save(partial: bool) -> str:
        """Write ablation.json (also after every variant: a run killed at a time limit keeps its results)."""
        report["complete"] = not partial
        report["wall_seconds"] = round(time.perf_counter() - t_start, 1)
        text = json.dumps(clean_json(report), indent=2, default=str, allow_nan=False)
        tmp = out / "ablation.json.tmp"
        tmp.write_text(text)
        tmp.replace(out / "ablation.json")
        return text

    def finish(name: str, row: dict[str, Any], adapter: Path | None) -> None:
        t = time.perf_counter()
        model, tok = load_for_eval(args.model, adapter, device)
        row["load_seconds"] = round(time.perf_counter() - t, 2)
        row.update(evaluate_model(model, tok, dev, args.score_batch_size, memory))
        free(model)
        variants[name] = row
        save(partial=True)
        log.warning(
            "%s: macro-F1 %.3f rmse %.3f", name, row.get("f1_macro", float("nan")), row.get("rmse", 0)
        )

    if "zero_shot" in wanted:
        finish(
            "zero_shot",
            {
                "train_seconds": 0.0,
                "cumulative_train_seconds": 0.0,
                "peak_mem_mb": None,
                "n_train_examples": 0,
            },
            None,
        )

    tokenizer = None
    if "label_only" in wanted:
        cfg = sft_config(args, data_dir, out / "label_only", "label_only", chain_config, cuda)
        result, records = run_training(args, cfg, memory)
        rec = records.get("label_only", {})
        phase = result["phases"][0]
        tokenizer = tokenizer or AutoTokenizer.from_pretrained(resolved)
        row = {
            "train_seconds": round(rec.get("train_seconds", phase.get("train_seconds", 0.0)), 2),
            "cumulative_train_seconds": round(rec.get("train_seconds", 0.0), 2),
            "peak_mem_mb": round(rec["peak_mem_mb"], 1) if rec else None,
            "steps": phase.get("steps"),
            "n_train_examples": phase.get("n_examples"),
            "train_loss": phase.get("train_loss"),
            "final_loss": phase.get("final_loss"),
            "tokens": token_stats(
                out / "label_only" / "label_only" / "examples.parquet", tokenizer, args.max_length
            ),
        }
        free()
        finish("label_only", row, Path(phase["final_dir"]))

    if "rag" in wanted:
        cfg = sft_config(args, data_dir, out / "rag", "sequential", chain_config, cuda)
        cfg = cfg.model_copy(update={"phases": ["rag"]})
        result, records = run_training(args, cfg, memory)
        phase = result["phases"][0]
        rec = records.get(phase["phase"], {})
        tokenizer = tokenizer or AutoTokenizer.from_pretrained(resolved)
        row = {
            "phase": phase["phase"],
            "train_seconds": round(rec.get("train_seconds", phase.get("train_seconds", 0.0)), 2),
            "cumulative_train_seconds": round(rec.get("train_seconds", 0.0), 2),
            "peak_mem_mb": round(rec["peak_mem_mb"], 1) if rec else None,
            "steps": phase.get("steps"),
            "n_train_examples": phase.get("n_examples"),
            "train_loss": phase.get("train_loss"),
            "final_loss": phase.get("final_loss"),
            "tokens": token_stats(
                out / "rag" / phase["phase"] / "examples.parquet", tokenizer, args.max_length
            ),
        }
        free()
        finish("rag", row, Path(phase["final_dir"]))

    seq = [v for v in ("ee", "ee_ra", "ee_ra_dr") if v in wanted]
    if seq:
        cfg = sft_config(args, data_dir, out / "multicot", "sequential", chain_config, cuda)
        if "ee_ra_dr" not in wanted:
            cfg = cfg.model_copy(update={"phases": ["ee", "ra"] if "ee_ra" in wanted else ["ee"]})
        result, records = run_training(args, cfg, memory)
        tokenizer = tokenizer or AutoTokenizer.from_pretrained(resolved)
        free()
        by_phase = {p["phase"]: p for p in result["phases"]}
        cumulative, peak_so_far = 0.0, 0.0
        for name in ("ee", "ee_ra", "ee_ra_dr"):
            pname = PHASE_OF[name]
            phase = by_phase.get(pname)
            if phase is None:
                continue
            rec = records.get(pname)
            phase_dir = out / "multicot" / pname
            # DR: scoring the training pairs for the RA model's mistakes belongs to the phase's cost
            extra = float(phase.get("scoring_seconds", 0.0) or 0.0)
            if rec is not None:
                cumulative += rec["train_seconds"] + extra
                peak_so_far = max(peak_so_far, rec["peak_mem_mb"])
            row = {
                "phase": pname,
                "train_seconds": round(rec["train_seconds"], 2) if rec else 0.0,
                "mistake_scoring_seconds": round(extra, 2) if pname == "3_dr" else None,
                "cumulative_train_seconds": round(cumulative, 2),
                "peak_mem_mb": round(rec["peak_mem_mb"], 1) if rec else None,
                "cumulative_peak_mem_mb": round(peak_so_far, 1),
                "steps": phase.get("steps"),
                "n_train_examples": phase.get("n_examples", 0),
                "train_loss": phase.get("train_loss"),
                "final_loss": phase.get("final_loss"),
                "tokens": token_stats(phase_dir / "examples.parquet", tokenizer, args.max_length),
            }
            if pname == "3_dr":
                row["dr_mistakes"] = {
                    k: phase.get(k) for k in ("n_scored", "n_mistakes", "mistake_rate", "optimistic_share")
                }
            if phase.get("skipped") or not (phase_dir / "final").is_dir():
                row["skipped"] = "no examples (phase not trained)"
                variants[name] = row
                continue
            if name in wanted:
                finish(name, row, phase_dir / "final")
        chains_file = out / "multicot" / "chains.parquet"
        if chains_file.exists():
            import pandas as pd

            ch = pd.read_parquet(chains_file, columns=["kind", "status"])
            report["chains"] = {
                f"{k}/{s}": int(n) for (k, s), n in ch.groupby(["kind", "status"]).size().items()
            }

    base = variants.get("zero_shot")
    if base:
        report["vs_zero_shot"] = {
            name: {
                m: (round(row[m] / base[m], 3) if base.get(m) else None)
                for m in ("f1_macro", "f1_weighted", "rmse", "optimistic_rate")
                if m in row
            }
            for name, row in variants.items()
            if name != "zero_shot" and "f1_macro" in row
        }
    text = save(partial=False)
    print(text)
    return json.loads(text)


def clean_json(obj: Any) -> Any:
    """NaN (an undefined precision/recall) becomes null, so the output is strict JSON."""
    if isinstance(obj, dict):
        return {str(k): clean_json(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [clean_json(v) for v in obj]
    if isinstance(obj, float) and obj != obj:
        return None
    if hasattr(obj, "item") and not isinstance(obj, str | bytes):  # numpy scalars
        return clean_json(obj.item())
    return obj


if __name__ == "__main__":
    main()
