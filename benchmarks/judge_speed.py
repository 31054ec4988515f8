"""Judge speed: generate-and-parse vs one-forward grade probabilities vs query-prefix sharing.

Same model (built-in SmolLM2-135M-Instruct, fp32), same pairs (from the built-in sample
catalogue: ``--queries`` queries with ``--per-query`` judged products each), same batch size,
one torch thread. Each mode runs in its own subprocess so that its peak RSS
(``resource.getrusage(...).ru_maxrss``) is its own; a warm-up batch is excluded from timing.

- ``a``: generate the answer a Multi-CoT-trained judge gives — the grade token, then its
  reasoning — and parse it: the baseline. Its length is measured in this run: the mean token
  count of the EE and RA chain targets (``ecomrel.reason.chains``) for these very pairs; the
  zero-shot model is held to that length with ``min_new_tokens`` (it would stop after the
  digit, which is not the answer a reasoning judge produces);
- ``a_zero_shot``: what zero-shot SmolLM2 generates when left alone (stops at EOS, at most
  ``--gen-tokens``) — shown for reference;
- ``b``: grade probabilities from one forward pass (``score_pairs``, no sharing);
- ``c``: ``b`` with query-prefix sharing;
- ``b_float32``: ``b`` in float32, added when ``--dtype`` is not float32 — the baseline of the
  reduced precision (speed ratio, largest probability gap, argmax agreement).

Generation batches are length-sorted like the scorer's. Prints JSON with pairs/s, peak RSS,
the ratios b/a, b/a_zero_shot and c/b against the targets
(b/a >= 5, c/b >= 2), and the largest |p_b - p_c| (must be < 1e-4).

    python benchmarks/judge_speed.py [--queries 6 --per-query 8 --batch-size 8 --dtype bfloat16]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("ECOMREL_NO_PROGRESS", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

MODES = ("a", "a_zero_shot", "b", "c")


def build_pairs(path: Path, queries: int, per_query: int, source: str = "sample") -> dict:
    """The fixed pair set: the first ``queries`` queries with >= ``per_query`` judged products.

    ``sample``: the built-in catalogue (title, brand, category, attributes, price, description);
    ``homedepot``: Home Depot pairs (titles only), read from ``../shared/data``.
    """
    if source == "homedepot":
        import pandas as pd

        from ecomrel.grades import homedepot_grade

        shared = Path(
            os.environ.get(
                "ECOMREL_SHARED_DATA", Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
            )
        )
        raw = pd.read_csv(shared / "homedepot" / "train.csv", encoding="latin-1")
        pairs = (
            pd.DataFrame(
                {
                    "query_id": raw["search_term"].factorize()[0].astype(str),
                    "product_id": raw["product_uid"].astype(str),
                    "query": raw["search_term"],
                    "title": raw["product_title"],
                    "grade": raw["relevance"].map(homedepot_grade),
                }
            )
            .drop_duplicates(["query_id", "product_id"])
            .sort_values(["query_id", "product_id"])
        )
    else:
        from ecomrel.data.sample import generate_sample

        pairs = (
            generate_sample(n_products=600, n_queries=120, seed=0)
            .pairs()
            .sort_values(["query_id", "product_id"])
        )
    sizes = pairs.groupby("query_id").size()
    chosen = sizes[sizes >= per_query].index[:queries]
    if len(chosen) < queries:
        raise SystemExit(f"only {len(chosen)} sample queries have {per_query}+ judged products")
    sub = pairs[pairs["query_id"].isin(chosen)].groupby("query_id").head(per_query).reset_index(drop=True)
    sub.to_parquet(path, index=False)
    return {"source": source, "pairs": int(len(sub)), "queries": int(sub["query_id"].nunique())}


def read_pairs(path: Path):
    """The fixed pair set back from Parquet, attributes as dicts again."""
    import pandas as pd

    pairs = pd.read_parquet(path)
    if "attributes" in pairs.columns:
        pairs["attributes"] = [dict(a) if a is not None else {} for a in pairs["attributes"]]
    return pairs


def answer_tokens(pairs_path: Path, tok) -> dict:
    """Mean token length (``tok``: SmolLM2's tokenizer) of the EE and RA reasoning targets of these pairs."""
    from ecomrel.reason.chains import build_chains

    pairs = read_pairs(pairs_path)
    if "grade" not in pairs.columns:
        raise SystemExit("the pairs need human grades to build reasoning chains")
    chains, _ = build_chains(pairs, kinds=["ee", "ra"])
    lengths = {
        kind: float(g["target"].dropna().map(lambda t: len(tok(t)["input_ids"])).mean())
        for kind, g in chains.groupby("kind")
    }
    return {
        "per_kind": {k: round(v, 1) for k, v in lengths.items()},
        "mean": round(sum(lengths.values()) / len(lengths)),
    }


def run_mode(
    mode: str, pairs_path: Path, batch_size: int, gen_tokens: int, answer_len: int, out_path: Path
) -> None:
    """One mode, in this (fresh) process; writes its JSON and probabilities."""
    import pandas as pd
    import torch

    from ecomrel.llm.models import load_model
    from ecomrel.llm.prompts import encode, prompts_for_pairs
    from ecomrel.llm.samplers import greedy
    from ecomrel.llm.scorer import score_pairs, sharing_stats

    torch.set_num_threads(1)
    pairs = read_pairs(pairs_path)
    dtype = "float32" if mode == "b_float32" else os.environ["ECOMREL_SPEED_DTYPE"]
    model, tok = load_model("smollm2", dtype=getattr(torch, dtype), threads=1)
    rss_loaded = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    extra: dict = {}

    def once(df: pd.DataFrame):
        if mode == "a":
            prompts = prompts_for_pairs(df, tok)
            return greedy(
                model,
                tok,
                prompts,
                max_new_tokens=answer_len,
                min_new_tokens=answer_len,
                batch_size=batch_size,
            )
        if mode == "a_zero_shot":
            return greedy(
                model, tok, prompts_for_pairs(df, tok), max_new_tokens=gen_tokens, batch_size=batch_size
            )
        return score_pairs(model, tok, df, batch_size=batch_size, share_prefix=(mode == "c"))

    once(pairs.head(2))  # warm-up (allocator, kernels), not timed
    t0, c0 = time.perf_counter(), time.process_time()
    result = once(pairs)
    seconds, cpu_seconds = time.perf_counter() - t0, time.process_time() - c0
    if mode in ("a", "a_zero_shot"):
        extra["malformed"] = int(result["malformed"].sum())
        extra["mean_new_chars"] = float(result["text"].str.len().mean())
        result[["grade"]].astype("float").to_parquet(out_path.with_suffix(".parquet"))
    else:
        result.to_parquet(out_path.with_suffix(".parquet"))
    ids = [encode(tok, p) for p in prompts_for_pairs(pairs, tok)]
    prompt_tokens = [len(x) for x in ids]
    if mode in ("b", "c", "b_float32"):
        extra.update(sharing_stats(ids, pairs["query"].tolist()))
    out_path.write_text(
        json.dumps(
            {
                "mode": mode,
                "pairs": int(len(pairs)),
                "seconds": round(seconds, 3),
                "pairs_per_s": round(len(pairs) / seconds, 3),
                "cpu_seconds": round(cpu_seconds, 3),
                "pairs_per_cpu_s": round(len(pairs) / cpu_seconds, 3),
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                "rss_after_load_mb": round(rss_loaded, 1),
                "mean_prompt_tokens": round(sum(prompt_tokens) / len(prompt_tokens), 1),
                **extra,
            }
        )
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--queries", type=int, default=6)
    ap.add_argument("--per-query", type=int, default=8)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument(
        "--gen-tokens", type=int, default=48, help="max new tokens of the zero-shot answer (a_zero_shot)"
    )
    ap.add_argument(
        "--answer-tokens", type=int, default=None, help="length of the answer in mode a (default: measured)"
    )
    ap.add_argument("--modes", default=",".join(MODES))
    ap.add_argument("--dtype", choices=["float32", "bfloat16"], default="float32", help="every mode's dtype")
    ap.add_argument("--source", choices=["sample", "homedepot"], default="sample")
    ap.add_argument("--_mode", help=argparse.SUPPRESS)
    ap.add_argument("--_pairs", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--_out", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args._mode:
        run_mode(args._mode, args._pairs, args.batch_size, args.gen_tokens, args.answer_tokens, args._out)
        return

    import numpy as np
    import pandas as pd

    from ecomrel.llm.models import load_model

    _, tok = load_model("smollm2", threads=1)  # converts the GGUF once, outside the timed subprocesses
    work = Path(tempfile.mkdtemp(prefix="ecomrel-speed-"))
    pairs_path = work / "pairs.parquet"
    info = build_pairs(pairs_path, args.queries, args.per_query, args.source)
    modes = [m for m in args.modes.split(",") if m]
    if args.dtype != "float32" and "b" in modes and "b_float32" not in modes:
        modes.append("b_float32")
    answer = {"mean": args.answer_tokens} if args.answer_tokens else answer_tokens(pairs_path, tok)
    results = {}
    for mode in modes:
        out = work / f"{mode}.json"
        cmd = [
            sys.executable,
            __file__,
            "--_mode",
            mode,
            "--_pairs",
            str(pairs_path),
            "--_out",
            str(out),
            "--batch-size",
            str(args.batch_size),
            "--gen-tokens",
            str(args.gen_tokens),
            "--answer-tokens",
            str(answer["mean"]),
        ]
        env = {**os.environ, "ECOMREL_THREADS": "1", "ECOMREL_SPEED_DTYPE": args.dtype}
        subprocess.run(cmd, check=True, env=env)
        results[mode] = json.loads(out.read_text())

    def ratio(x: str, y: str, key: str = "pairs_per_s") -> float | None:
        if x in results and y in results:
            return round(results[x][key] / results[y][key], 3)
        return None

    report = {
        "benchmark": "judge_speed",
        "model": f"smollm2 (SmolLM2-135M-Instruct, {args.dtype})",
        "torch_threads": 1,
        "batch_size": args.batch_size,
        **info,
        "answer_tokens_mode_a": answer,
        "modes": results,
        "ratios": {
            "b_over_a": ratio("b", "a"),
            "b_over_a_zero_shot": ratio("b", "a_zero_shot"),
            "c_over_b": ratio("c", "b"),
            "b_over_b_float32": ratio("b", "b_float32"),
        },
        # on a shared machine wall time depends on the neighbours; the CPU time of the one thread does not
        "ratios_cpu_time": {
            "b_over_a": ratio("b", "a", "pairs_per_cpu_s"),
            "b_over_a_zero_shot": ratio("b", "a_zero_shot", "pairs_per_cpu_s"),
            "c_over_b": ratio("c", "b", "pairs_per_cpu_s"),
            "b_over_b_float32": ratio("b", "b_float32", "pairs_per_cpu_s"),
        },
        "targets": {"b_over_a": 5.0, "c_over_b": 2.0},
    }
    p = [f"p_{g}" for g in range(4)]
    if "b" in results and "b_float32" in results:
        b = pd.read_parquet(work / "b.parquet")[p].to_numpy()
        f32 = pd.read_parquet(work / "b_float32.parquet")[p].to_numpy()
        report["dtype_vs_float32"] = {
            "max_abs_prob_diff": float(np.abs(b - f32).max()),
            "argmax_agreement": float((b.argmax(1) == f32.argmax(1)).mean()),
        }
    if "b" in results and "c" in results:
        b = pd.read_parquet(work / "b.parquet")[p].to_numpy()
        c = pd.read_parquet(work / "c.parquet")[p].to_numpy()
        report["max_abs_diff_b_c"] = float(np.abs(b - c).max())
        if "a" in results:
            ga = pd.read_parquet(work / "a.parquet")["grade"].to_numpy()
            ok = ~np.isnan(ga)
            report["a_grade_equals_b_argmax"] = (
                float((ga[ok] == b.argmax(1)[ok]).mean()) if ok.any() else None
            )
    if "b" in results:
        b_tokens = results["b"]
        report["token_reduction_c"] = round(b_tokens["tokens_unshared"] / b_tokens["tokens_shared"], 3)
    report["targets_met"] = {
        k: (report["ratios"][k] is not None and report["ratios"][k] >= v)
        for k, v in report["targets"].items()
    }
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
