"""Every serving variant of a *trained* student vs torch fp32: pairs/s, ratio, fidelity, size, auto choice.

One run, one machine, one thread: a student that separates grades (``--student DIR``, or trained
here on the sample catalogue with the recipe that gives macro-F1 ~0.4-0.45: 3,000 human-labelled
train pairs, 1 epoch, max_length 96, lr 6e-5), exported with ``ecomrel.export.variants.export_variants``
(ONNX fp32, ONNX int8 outlier-aware and plain, OpenVINO IR at the CPU's precision, OpenVINO NNCF
int8 calibrated on ``--calibration-pairs`` train pairs of the data folder, torch bf16), then timed:

- text in → grade probabilities out (tokenization inside every timed call, for every engine);
- held-out (dev) pairs of the data folder, real lengths (the mean token count is reported);
- batch 1 and 50 (``--batches``); all engines interleaved round by round, ``--rounds`` rounds of at
  least ``--seconds`` each, the median kept;
- named baseline ``torch_fp32``: sentence-transformers ``CrossEncoder.predict`` in PyTorch fp32.

Fidelity (from the export's manifest): each variant against torch fp32 on ``--heldout-pairs`` dev
pairs: argmax agreement, agreement on decided pairs (fp32 top-two gap >= 0.05), Spearman and MAE of
the expected grade. ``auto`` is :func:`ecomrel.export.variants.choose_variant` on this run's
figures at each batch size (bars: Spearman >= 0.995, decided agreement 100 %).

sentence-transformers' own ONNX / OpenVINO exports (``export_dynamic_quantized_onnx_model``,
``CrossEncoder(backend="onnx")``) import optimum, which pins transformers < 4.58 and cannot be
installed beside this project's transformers 5.x; the JSON says whether it could be produced.

    /work/tools/heavy .venv/bin/python benchmarks/student_speed.py \
        --student runs/L/distill/h_3000_e1 --data runs/L/base/data --out runs/student_speed.json
    /work/tools/heavy .venv/bin/python benchmarks/student_speed.py --work runs/student_speed   # trains
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path


def _train_student(work: Path, data: Path | None, train_pairs: int) -> tuple[Path, Path, dict]:
    """(run folder, data folder, metrics) of a human-labels student trained with the sample recipe."""
    from ecomrel.train.distill_config import DistillConfig
    from ecomrel.train.distill_trainer import run_distill

    if data is None:
        from ecomrel.data.sample import generate_sample
        from ecomrel.data.splits import split_by_query

        data = work / "data"
        if not (data / "splits.parquet").exists():
            ds = generate_sample(n_products=2400, n_queries=500, seed=0, noise=0.1)
            ds.splits = split_by_query(ds.queries, seed=0)
            ds.save(data)
    cfg = DistillConfig(
        data_dir=data,
        out=work / "student",
        human_only=True,
        max_train_pairs=train_pairs,
        recipe={"max_length": 96},
        training_args={"num_train_epochs": 1.0, "learning_rate": 6e-5, "per_device_train_batch_size": 32},
        num_threads=1,
        precision="fp32",
    )
    out = run_distill(cfg)
    return work / "student", data, out.get("metrics", {})


def _student_metrics(run: Path) -> dict:
    m = run / "metrics.json"
    if m.exists():
        data = json.loads(m.read_text())
        return data.get("metrics", data)
    return {}


def _st_onnx_baseline() -> dict:
    import importlib.util

    if importlib.util.find_spec("optimum") is None:
        return {
            "produced": False,
            "why": "sentence_transformers.backend.export_dynamic_quantized_onnx_model and "
            "CrossEncoder(backend='onnx') import optimum.onnxruntime; optimum pins transformers < 4.58 "
            "and is not installable beside transformers 5.x. The nearest stand-in measured here is "
            "onnx-int8-plain (onnxruntime quantize_dynamic on the same ONNX graph).",
        }
    return {"produced": False, "why": "optimum is importable but this benchmark does not drive it"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--student", type=Path, default=None, help="Trained student (run_distill output or model/)."
    )
    ap.add_argument(
        "--data", type=Path, default=None, help="Data folder (default: the student's, else sample)."
    )
    ap.add_argument("--work", type=Path, default=None, help="Work folder (default: a temporary one).")
    ap.add_argument("--train-pairs", type=int, default=3000, help="Training pairs when training here.")
    ap.add_argument("--calibration-pairs", type=int, default=300)
    ap.add_argument("--heldout-pairs", type=int, default=500)
    ap.add_argument("--batches", default="1,50")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=2.0, help="Timed seconds per engine, batch and round.")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--variants", default=None, help="Comma list (default: every variant).")
    ap.add_argument("--out", type=Path, default=None, help="Also write the JSON here.")
    args = ap.parse_args()

    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import torch

    torch.set_num_threads(args.threads)
    from sentence_transformers.cross_encoder import CrossEncoder

    from ecomrel.export.onnx import resolve_model_dir
    from ecomrel.export.variants import (
        ALL_VARIANTS,
        VariantOptions,
        choose_variant,
        data_pairs,
        export_variants,
        interleaved_speed,
        load_variant,
    )
    from ecomrel.hardware import machine
    from ecomrel.student.recipe import StudentRecipe

    work = args.work or Path(tempfile.mkdtemp(prefix="student_speed_"))
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    if args.student is None:
        run, data, metrics = _train_student(work, args.data, args.train_pairs)
        trained = {"trained_here": True, "seconds": round(time.perf_counter() - t0, 1)}
    else:
        run, data, metrics = args.student, args.data, _student_metrics(args.student)
        trained = {"trained_here": False}
        if data is None and (run / "config.yaml").exists():
            import yaml

            data = Path(yaml.safe_load((run / "config.yaml").read_text())["data_dir"])
    model_dir = resolve_model_dir(run)
    batches = [int(b) for b in args.batches.split(",")]
    names = args.variants.split(",") if args.variants else list(ALL_VARIANTS)
    t1 = time.perf_counter()
    manifest = export_variants(
        model_dir,
        work / "export",
        VariantOptions(
            variants=names,
            data_dir=data,
            calibration_pairs=args.calibration_pairs,
            heldout_pairs=args.heldout_pairs,
            batches=batches,
            rounds=1,
            seconds=0.5,
            threads=args.threads,
        ),
    )
    export_s = round(time.perf_counter() - t1, 1)
    recipe = StudentRecipe.load(model_dir)
    _, held, _ = data_pairs(data, recipe, 1, args.heldout_pairs)

    engines = {"torch_fp32": CrossEncoder(str(model_dir), device="cpu", max_length=recipe.max_length)}
    for n in manifest["variants"]:
        engines[n] = load_variant(work / "export", n, threads=args.threads, source=model_dir)
    rows = []
    for b in batches:
        chosen = [held[i % len(held)] for i in range(b)]
        qs, ps = [q for q, _ in chosen], [p for _, p in chosen]
        pairs = list(zip(qs, ps, strict=True))
        callers = {}
        for n, e in engines.items():
            if n == "torch_fp32":
                callers[n] = lambda e=e, pairs=pairs, b=b: e.predict(
                    pairs, batch_size=b, show_progress_bar=False, apply_softmax=True
                )
            else:
                callers[n] = lambda e=e, qs=qs, ps=ps, b=b: e.predict_proba(qs, ps, batch_size=b)
        tokens = float(engines["torch-fp32"].features(qs, ps)["attention_mask"].sum(1).mean())
        speed = interleaved_speed(callers, b, rounds=args.rounds, seconds=args.seconds)
        base = speed["torch_fp32"]["pairs_per_s"]
        row = {"batch": b, "mean_tokens": round(tokens, 1)}
        for n, s in speed.items():
            row[n] = {"pairs_per_s": s["pairs_per_s"], "vs_torch_fp32": round(s["pairs_per_s"] / base, 2)}
        rows.append(row)
        print(json.dumps(row), flush=True)

    # the automatic choice on this run's (interleaved, median) figures
    bench_manifest = json.loads(json.dumps(manifest))
    for row in rows:
        for n, e in bench_manifest["variants"].items():
            e["speed"][str(row["batch"])] = row[n]
    auto = {}
    for b in batches:
        c = choose_variant(bench_manifest, b)
        auto[str(b)] = {
            "chosen": c.name,
            "vs_torch_fp32": next(r for r in rows if r["batch"] == c.batch)[c.name]["vs_torch_fp32"],
            "reason": c.reason,
            "rejected": c.rejected,
        }
    fidelity = {
        n: {
            k: e["fidelity"][k]
            for k in ("argmax_agreement", "decided_agreement", "spearman", "expected_grade_mae")
        }
        | {"n_decided_flips": e["fidelity"]["n_decided_flips"], "n_flips": e["fidelity"]["n_flips"]}
        for n, e in manifest["variants"].items()
    }
    import onnxruntime
    import sentence_transformers

    versions = {
        "torch": torch.__version__,
        "onnxruntime": onnxruntime.__version__,
        "sentence_transformers": sentence_transformers.__version__,
    }
    try:
        import nncf
        import openvino

        versions |= {"openvino": openvino.__version__, "nncf": nncf.__version__}
    except ImportError:
        pass
    report = {
        "benchmark": "student_speed",
        "baseline": "torch_fp32 (sentence-transformers CrossEncoder.predict, PyTorch fp32)",
        "student": str(model_dir),
        "student_metrics": metrics,
        "training": trained,
        "data": str(data) if data else None,
        "machine": machine(),
        "threads": args.threads,
        "versions": versions,
        "pairs": manifest["pairs"],
        "export_seconds": export_s,
        "timing": {"rounds": args.rounds, "seconds_per_round": args.seconds, "statistic": "median"},
        "rows": rows,
        "fidelity_vs_torch_fp32": fidelity,
        "size_mb": {n: e["size_mb"] for n, e in manifest["variants"].items()},
        "precision": {n: e["precision"] for n, e in manifest["variants"].items()},
        "auto": auto,
        "target": {
            "required_vs_torch_fp32": 3.5,
            "met": {b: a["vs_torch_fp32"] >= 3.5 for b, a in auto.items()},
        },
        "sentence_transformers_onnx": _st_onnx_baseline(),
        "seconds": round(time.perf_counter() - t0, 1),
    }
    text = json.dumps(report, indent=2, default=str)
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
