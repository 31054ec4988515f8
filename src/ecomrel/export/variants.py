"""Every serving variant of a trained student, each measured on this machine, and the choice between them.

:func:`export_variants` writes, into one export folder, the variants below and a manifest
``variants.json`` with, for each: its files and size, its **fidelity** against torch fp32 on held-out
pairs (argmax agreement, agreement on decided pairs, Spearman and MAE of the expected grade;
:func:`ecomrel.eval.fidelity.variant_fidelity`) and its **speed** (pairs/s, text in → probabilities
out, one thread by default) at each configured batch size, measured interleaved over several rounds
(median), plus the machine it was measured on.

===============  ==============================================================  ===================
variant          what                                                            needs
===============  ==============================================================  ===================
torch-fp32       the trained student itself (the reference)                      torch, transformers
onnx-fp32        ``model.onnx``                                                  onnxruntime
onnx-int8        ``model_int8.onnx``: dynamic int8, per-channel, outlier split   onnxruntime
onnx-int8-plain  ``model_int8_plain.onnx``: ``quantize_dynamic`` defaults        onnxruntime
openvino         ``openvino/``: IR; bf16 on AVX512-BF16/AMX CPUs, else f32       openvino
openvino-int8    ``openvino_int8/``: NNCF static int8 calibrated on your pairs   openvino, nncf
torch-bf16       ``torch_bf16/``: bfloat16 weights                               torch, transformers
===============  ==============================================================  ===================

Pairs come from the user's data folder (``data_dir``): calibration pairs from the ``train`` split,
held-out pairs (fidelity and speed) from the ``dev`` split (``test`` when there is no dev; queries
split in two by a hash when the folder has no splits). Without a data folder the built-in 64
calibration pairs serve for both, and the manifest says so.

:func:`choose_variant` is ``ecomrel serve --backend auto``: the fastest variant at the service's
batch size among those whose fidelity passes the bars (default Spearman >= 0.995, decided-pair
agreement 100 %), measured at the precision this CPU would run them at.
"""

from __future__ import annotations

import json
import statistics
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ecomrel.errors import ConfigError, DataError
from ecomrel.export.onnx import (
    FP32_NAME,
    INT8_NAME,
    INT8_PLAIN_NAME,
    calibration_pairs,
    export_onnx,
    quantize_student,
    resolve_model_dir,
    resolve_onnx_dir,
)
from ecomrel.hardware import cpu_bf16, machine
from ecomrel.student.recipe import StudentRecipe

VARIANTS_MANIFEST = "variants.json"
ALL_VARIANTS = (
    "torch-fp32",
    "onnx-fp32",
    "onnx-int8",
    "onnx-int8-plain",
    "openvino",
    "openvino-int8",
    "torch-bf16",
)
REFERENCE = "torch-fp32"
DEFAULT_MIN_SPEARMAN = 0.995
DEFAULT_MIN_DECIDED = 1.0
HARDWARE_PRECISION = ("openvino", "openvino-int8")
"""Variants whose arithmetic precision is chosen from the CPU when they are loaded."""

DESCRIPTIONS = {
    "torch-fp32": "the trained student in PyTorch fp32 (reference)",
    "onnx-fp32": "ONNX Runtime, fp32",
    "onnx-int8": "ONNX Runtime, dynamic int8 (per-channel weights, outlier channels in fp32)",
    "onnx-int8-plain": "ONNX Runtime, plain quantize_dynamic int8",
    "openvino": "OpenVINO IR, bf16 on AVX512-BF16/AMX CPUs, else f32",
    "openvino-int8": "OpenVINO, NNCF static int8 calibrated on the user's pairs",
    "torch-bf16": "PyTorch, bfloat16 weights",
}


VARIANT_NEEDS = {
    "torch-fp32": ("torch", "transformers"),
    "onnx-fp32": ("onnxruntime",),
    "onnx-int8": ("onnxruntime",),
    "onnx-int8-plain": ("onnxruntime",),
    "openvino": ("openvino",),
    "openvino-int8": ("openvino", "nncf"),
    "torch-bf16": ("torch", "transformers"),
}


def installed_variants() -> list[str]:
    """The variants whose runtimes are importable here (``all`` means these)."""
    import importlib.util

    return [n for n in ALL_VARIANTS if all(importlib.util.find_spec(m) is not None for m in VARIANT_NEEDS[n])]


def check_variants(names: Sequence[str]) -> list[str]:
    """The requested variant names, validated (``ConfigError`` naming the known ones); reference first.

    ``all`` is every variant whose runtime is installed (OpenVINO ones need ``ecomrel[openvino]``).
    """
    names = [n.strip() for n in names if n.strip()]
    if "all" in names:
        names = [n for n in names if n != "all"] + installed_variants()
    unknown = [n for n in names if n not in ALL_VARIANTS]
    if unknown:
        raise ConfigError(f"--variants {','.join(unknown)}: unknown (known: {', '.join(ALL_VARIANTS)})")
    return [REFERENCE] + [n for n in ALL_VARIANTS if n in names and n != REFERENCE]


# --- pairs ------------------------------------------------------------------------------------------


def data_pairs(
    data_dir: str | Path | None,
    recipe: StudentRecipe,
    n_calibration: int,
    n_heldout: int,
    seed: int = 0,
    calibration_split: str = "train",
    heldout_split: str = "dev",
) -> tuple[list[tuple[str, str]], list[tuple[str, str]], dict[str, Any]]:
    """(calibration pairs, held-out pairs, description) as (query, product text) from ``data_dir``."""
    if data_dir is None:
        pairs = calibration_pairs(recipe)
        return (
            pairs[:n_calibration],
            pairs[:n_heldout],
            {
                "source": "built-in calibration pairs (no --data): calibration and held-out overlap",
            },
        )
    from ecomrel.data.schema import Dataset

    ds = Dataset.load(data_dir)
    all_pairs = ds.pairs()
    if all_pairs.empty:
        raise DataError(f"{data_dir}: no judged pairs")
    qid = all_pairs["query_id"].astype(str)
    if ds.splits is not None:
        splits = dict(zip(ds.splits["query_id"].astype(str), ds.splits["split"].astype(str), strict=False))
        split = qid.map(splits).fillna("")
        have = set(split)
        held = heldout_split if heldout_split in have else ("test" if "test" in have else None)
        if calibration_split not in have or held is None:
            raise DataError(
                f"{data_dir}/splits.parquet: needs splits {calibration_split!r} and {heldout_split!r} "
                f"(or 'test'); has {sorted(have - {''})}"
            )
        cal_mask, held_mask = split == calibration_split, split == held
        how = f"calibration: split {calibration_split}; held-out: split {held}"
    else:
        half = qid.map(lambda q: zlib.crc32(q.encode()) % 2)
        cal_mask, held_mask = half == 0, half == 1
        how = "no splits.parquet: queries split in two by a hash"

    def take(mask: Any, n: int) -> list[tuple[str, str]]:
        df = all_pairs[mask.to_numpy()]
        if len(df) > n:
            df = df.sample(n, random_state=seed)
        return [
            (str(q), recipe.product_text(r))
            for q, r in zip(df["query"].fillna(""), df.to_dict("records"), strict=True)
        ]

    cal, held_pairs = take(cal_mask, n_calibration), take(held_mask, n_heldout)
    if not cal or not held_pairs:
        raise DataError(f"{data_dir}: no pairs for calibration or held-out ({how})")
    return cal, held_pairs, {"source": str(data_dir), "how": how}


# --- loading any variant ----------------------------------------------------------------------------


def load_variant(folder: str | Path, name: str, threads: int = 1, source: str | Path | None = None) -> Any:
    """Variant ``name`` of export folder ``folder``: ``predict_proba(queries, texts, batch_size)`` on it.

    ``torch-fp32`` loads the trained student from ``source`` (default: the manifest's source folder).
    """
    if name not in ALL_VARIANTS:
        raise ConfigError(f"variant {name!r}: unknown (known: {', '.join(ALL_VARIANTS)})")
    folder = resolve_onnx_dir(folder)
    if name.startswith("onnx-"):
        from ecomrel.export.onnx import OnnxStudent

        return OnnxStudent(folder, variant=name.removeprefix("onnx-"), threads=threads)
    if name.startswith("openvino"):
        from ecomrel.export.openvino import OpenVinoStudent

        return OpenVinoStudent(folder, variant="int8" if name.endswith("int8") else "fp32", threads=threads)
    from ecomrel.export.torch_variant import BF16_DIR, TorchStudent

    if name == "torch-bf16":
        if not (folder / BF16_DIR).exists():
            raise DataError(f"{folder / BF16_DIR}: not found (run `ecomrel export variants`)")
        return TorchStudent(folder / BF16_DIR, tokenizer_dir=folder, dtype="bf16", threads=threads)
    if source is None:
        source = read_manifest(folder).get("source")
    if source is None or not Path(str(source)).exists():
        raise DataError(f"{folder}: the torch-fp32 source folder {source} is not there")
    return TorchStudent(resolve_model_dir(source), tokenizer_dir=folder, dtype="fp32", threads=threads)


def read_manifest(folder: str | Path) -> dict[str, Any]:
    """``variants.json`` of an export folder (``{}`` when there is none)."""
    path = Path(folder) / VARIANTS_MANIFEST
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: not valid JSON ({exc})") from None


def _size_mb(paths: Sequence[Path]) -> float:
    total = 0
    for p in paths:
        if p.is_dir():
            total += sum(f.stat().st_size for f in p.rglob("*") if f.is_file())
        elif p.exists():
            total += p.stat().st_size
    return round(total / 2**20, 2)


def variant_files(folder: Path, name: str, source: Path) -> list[Path]:
    """The model files of a variant (the tokenizer, shared by all, is not counted)."""
    from ecomrel.export.openvino import OV_DIRS
    from ecomrel.export.torch_variant import BF16_DIR

    return {
        "torch-fp32": [source / "model.safetensors"],
        "onnx-fp32": [folder / FP32_NAME],
        "onnx-int8": [folder / INT8_NAME],
        "onnx-int8-plain": [folder / INT8_PLAIN_NAME],
        "openvino": [folder / OV_DIRS["fp32"]],
        "openvino-int8": [folder / OV_DIRS["int8"]],
        "torch-bf16": [folder / BF16_DIR],
    }[name]


def variant_precision(name: str, predictor: Any) -> str:
    """The arithmetic a loaded variant runs: fp32, int8, bf16, or OpenVINO's compiled precision."""
    if name.startswith("openvino"):
        p = getattr(predictor, "precision", "f32")
        return f"int8+{p}" if name.endswith("int8") else p
    return {"torch-bf16": "bf16", "onnx-int8": "int8", "onnx-int8-plain": "int8"}.get(name, "fp32")


# --- speed ------------------------------------------------------------------------------------------


def interleaved_speed(
    callers: dict[str, Callable[[], Any]], n_pairs: int, rounds: int = 3, seconds: float = 1.0
) -> dict[str, dict[str, Any]]:
    """pairs/s of each caller: one warm-up call each, then ``rounds`` rounds in which every caller runs
    for at least ``seconds`` (at least one call) in turn; the median of the rounds' rates."""
    for fn in callers.values():
        fn()
    rates: dict[str, list[float]] = {n: [] for n in callers}
    for _ in range(max(1, rounds)):
        for name, fn in callers.items():
            calls, t0 = 0, time.perf_counter()
            while True:
                fn()
                calls += 1
                dt = time.perf_counter() - t0
                if dt >= seconds:
                    break
            rates[name].append(calls * n_pairs / dt)
    return {
        n: {"pairs_per_s": round(statistics.median(r), 2), "rounds": [round(x, 2) for x in r]}
        for n, r in rates.items()
    }


def _batch_of(pairs: Sequence[tuple[str, str]], batch: int) -> tuple[list[str], list[str]]:
    chosen = [pairs[i % len(pairs)] for i in range(batch)]
    return [q for q, _ in chosen], [p for _, p in chosen]


# --- the export -------------------------------------------------------------------------------------


@dataclass
class VariantOptions:
    """What ``export_variants`` builds and how it measures (the ``ecomrel export variants`` options)."""

    variants: Sequence[str] = ("all",)
    data_dir: str | Path | None = None
    calibration_pairs: int = 300
    heldout_pairs: int = 500
    batches: Sequence[int] = (1, 50)
    rounds: int = 3
    seconds: float = 1.0
    threads: int = 1
    opset: int = 17
    outlier_ratio: float = 3.0
    openvino_max_drop: float | None = None
    decided_margin: float = 0.05
    seed: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def export_variants(
    model_dir: str | Path, out_dir: str | Path, options: VariantOptions | None = None
) -> dict:
    """Build every requested variant of the student in ``out_dir``, measure each, write ``variants.json``.

    Returns the manifest (also written to ``out_dir/variants.json``).
    """
    from ecomrel.eval.fidelity import variant_fidelity

    opts = options or VariantOptions()
    names = check_variants(opts.variants)
    if any(b < 1 for b in opts.batches) or not opts.batches:
        raise ConfigError(f"--batches {list(opts.batches)}: each must be >= 1")
    if opts.calibration_pairs < 1 or opts.heldout_pairs < 1:
        raise ConfigError("--calibration-pairs and --heldout-pairs must be >= 1")
    src = resolve_model_dir(model_dir)
    recipe = StudentRecipe.load(src)
    cal, held, pairs_info = data_pairs(
        opts.data_dir, recipe, opts.calibration_pairs, opts.heldout_pairs, opts.seed
    )
    out = Path(out_dir)
    t0 = time.perf_counter()
    steps: dict[str, Any] = {}

    onnx_info = export_onnx(
        src,
        out,
        opset=opts.opset,
        quantize="onnx-int8" in names,
        outlier_ratio=opts.outlier_ratio,
        calibration=cal if opts.data_dir is not None else None,
    )
    steps["onnx"] = {k: onnx_info[k] for k in ("max_abs_logit_diff", "quantization", "seconds")}
    if "onnx-int8-plain" in names:
        steps["onnx-int8-plain"] = quantize_student(
            out, out / INT8_PLAIN_NAME, per_channel=False, outlier_ratio=None, quantize_embeddings=True
        )
    if "openvino" in names or "openvino-int8" in names:
        from ecomrel.export.openvino import export_openvino, quantize_openvino

        t = time.perf_counter()
        export_openvino(out)
        steps["openvino"] = {"seconds": round(time.perf_counter() - t, 2)}
        if "openvino-int8" in names:
            t = time.perf_counter()
            steps["openvino-int8"] = quantize_openvino(out, cal, max_drop=opts.openvino_max_drop) | {
                "seconds": round(time.perf_counter() - t, 2)
            }
    if "torch-bf16" in names:
        from ecomrel.export.torch_variant import export_torch_bf16

        export_torch_bf16(src, out)

    predictors = {n: load_variant(out, n, threads=opts.threads, source=src) for n in names}
    hq, hp = [q for q, _ in held], [p for _, p in held]
    ref = predictors[REFERENCE].predict_proba(hq, hp, batch_size=64)
    entries: dict[str, dict[str, Any]] = {}
    for n, pred in predictors.items():
        probs = ref if n == REFERENCE else pred.predict_proba(hq, hp, batch_size=64)
        entries[n] = {
            "description": DESCRIPTIONS[n],
            "files": [
                str(p.relative_to(out)) if p.is_relative_to(out) else str(p)
                for p in variant_files(out, n, src)
            ],
            "size_mb": _size_mb(variant_files(out, n, src)),
            "precision": variant_precision(n, pred),
            "runtime_precision": getattr(pred, "runtime_precision", None),
            "fidelity": variant_fidelity(ref, probs, opts.decided_margin),
            "speed": {},
        }
    tokens = []
    for b in opts.batches:
        qs, ps = _batch_of(held, b)
        feats = predictors[REFERENCE].features(qs, ps)
        tokens.append(float(feats["attention_mask"].sum(1).mean()))
        callers = {
            n: (lambda p=p, qs=qs, ps=ps, b=b: p.predict_proba(qs, ps, batch_size=b))
            for n, p in predictors.items()
        }
        speed = interleaved_speed(callers, b, rounds=opts.rounds, seconds=opts.seconds)
        base = speed[REFERENCE]["pairs_per_s"]
        for n, s in speed.items():
            entries[n]["speed"][str(b)] = s | {
                "vs_torch_fp32": round(s["pairs_per_s"] / base, 3) if base else None
            }
    manifest = {
        "schema": 1,
        "source": str(src),
        "reference": REFERENCE,
        "machine": machine(),
        "threads": opts.threads,
        "pairs": pairs_info
        | {
            "calibration": len(cal),
            "heldout": len(held),
            "decided_margin": opts.decided_margin,
            "speed_batches": list(opts.batches),
            "speed_mean_tokens": dict(
                zip([str(b) for b in opts.batches], [round(t, 1) for t in tokens], strict=True)
            ),
            "speed_rounds": opts.rounds,
            "speed_seconds_per_round": opts.seconds,
        },
        "steps": steps,
        "variants": entries,
        "seconds": round(time.perf_counter() - t0, 1),
    }
    (out / VARIANTS_MANIFEST).write_text(json.dumps(manifest, indent=2, default=str))
    return manifest


def variant_rows(manifest: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """One row per variant of a ``variants.json`` manifest: size, precision, fidelity, speed ratios."""
    return {
        n: {
            "size_mb": e["size_mb"],
            "precision": e["precision"],
            "spearman": round(e["fidelity"]["spearman"], 5),
            "decided_agreement": e["fidelity"]["decided_agreement"],
            "expected_grade_mae": round(e["fidelity"]["expected_grade_mae"], 5),
            **{f"batch{b}_vs_torch": s["vs_torch_fp32"] for b, s in e["speed"].items()},
        }
        for n, e in manifest["variants"].items()
    }


# --- the automatic choice ---------------------------------------------------------------------------


@dataclass
class Choice:
    """What ``serve --backend auto`` picked, and why; ``rejected`` maps a variant to the reason."""

    name: str
    batch: int
    reason: str
    rejected: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def log_lines(self) -> list[str]:
        lines = [f"auto: {self.name} — {self.reason}"]
        lines += [f"auto: not {n}: {why}" for n, why in self.rejected.items()]
        lines += [f"auto: warning: {w}" for w in self.warnings]
        return lines


def expected_precision(name: str) -> str | None:
    """The precision a hardware-dependent variant would run at on this CPU (None: not hardware-dependent)."""
    if name not in HARDWARE_PRECISION:
        return None
    p = "bf16" if cpu_bf16() else "f32"
    return f"int8+{p}" if name.endswith("int8") else p


def choose_variant(
    manifest: dict[str, Any],
    batch: int,
    min_spearman: float = DEFAULT_MIN_SPEARMAN,
    min_decided: float = DEFAULT_MIN_DECIDED,
    available: Callable[[str], bool] | None = None,
) -> Choice:
    """The fastest variant at the measured batch size nearest ``batch`` whose fidelity passes the bars.

    A variant is skipped when ``available(name)`` is False (its runtime is not installed), when its
    fidelity fails a bar, or when it was measured at another precision than this CPU would run it at
    (e.g. OpenVINO measured in f32 on a CPU without bf16, served on one with AMX). The reference
    (torch fp32) always passes; it is the fallback.
    """
    entries: dict[str, dict[str, Any]] = manifest.get("variants") or {}
    if not entries:
        raise DataError("variants.json has no variants (run `ecomrel export variants`)")
    measured = sorted({int(b) for e in entries.values() for b in e.get("speed", {})})
    if not measured:
        raise DataError("variants.json has no speed figures")
    at = min(measured, key=lambda b: (abs(b - batch), -b))
    rejected: dict[str, str] = {}
    ok: list[tuple[float, str]] = []
    for name, e in entries.items():
        if available is not None and not available(name):
            rejected[name] = "its runtime is not installed here"
            continue
        f = e.get("fidelity", {})
        rho, dec = float(f.get("spearman", 0.0)), float(f.get("decided_agreement", 0.0))
        if name != manifest.get("reference", REFERENCE):
            if rho < min_spearman:
                rejected[name] = f"Spearman {rho:.4f} < {min_spearman}"
                continue
            if dec < min_decided:
                rejected[name] = (
                    f"decided-pair agreement {dec:.2%} < {min_decided:.0%} "
                    f"({f.get('n_decided_flips')} of {f.get('n_decided')} decided pairs flip)"
                )
                continue
        want = expected_precision(name)
        if want is not None and e.get("precision") != want:
            rejected[name] = (
                f"measured at {e.get('precision')}, this CPU would run it at {want}: re-export here"
            )
            continue
        s = e.get("speed", {}).get(str(at))
        if not s:
            rejected[name] = f"no speed measured at batch {at}"
            continue
        ok.append((float(s["pairs_per_s"]), name))
    if not ok:
        raise DataError("variants.json: no variant passes the fidelity bars and is installed here")
    ok.sort(reverse=True)
    rate, best = ok[0]
    e = entries[best]
    f = e["fidelity"]
    ratio = e["speed"][str(at)].get("vs_torch_fp32")
    for r, n in ok[1:]:
        rejected[n] = f"slower: {r:.1f} pairs/s at batch {at}"
    reason = (
        f"fastest passing variant at batch {at} (service batch {batch}): {rate:.1f} pairs/s"
        + (f", {ratio:.2f}x torch fp32" if ratio else "")
        + f"; Spearman {f['spearman']:.4f}, decided-pair agreement {f['decided_agreement']:.2%}, "
        f"{e.get('size_mb')} MB, precision {e.get('precision')} "
        f"(bars: Spearman >= {min_spearman}, decided >= {min_decided:.0%})"
    )
    warnings = []
    m = manifest.get("machine") or {}
    here = machine()
    if m and (m.get("cpu") != here["cpu"] or m.get("bf16") != here["bf16"]):
        warnings.append(
            f"speeds were measured on {m.get('cpu')} (bf16 {m.get('bf16')}); this is {here['cpu']} "
            f"(bf16 {here['bf16']}): re-run `ecomrel export variants` here to re-measure"
        )
    return Choice(best, at, reason, rejected, warnings)
