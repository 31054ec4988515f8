"""Score a data folder with any ecomrel model: ``ecomrel predict`` and :func:`predict`.

The model kind is read from the files in the folder (:func:`detect_model`):

===========  ==========================================================  ===========================
kind         the folder holds                                            scored by
===========  ==========================================================  ===========================
onnx         ``model.onnx`` / ``model_int8.onnx`` (``ecomrel export``)    ``ecomrel.export.OnnxStudent``
judge        ``adapter_config.json`` (a LoRA adapter on a base model),    ``ecomrel.llm.judge.run_judge``
             or a causal-LM ``config.json``                               (resumable, CumPT tiers)
student      ``config.json`` + ``model.safetensors`` (``train distill``;  ``ecomrel.student`` (torch)
             also ``out/model`` and ``distill/student/model``)
baseline     ``<method>_thresholds.json`` (``ecomrel baseline``; the       ``ecomrel.baselines`` + the
             file itself, or a folder with exactly one)                   saved cut points
===========  ==========================================================  ===========================

A distill output folder holding both ``model/`` and ``onnx/`` is scored as the torch student; pass
its ``onnx/`` folder for the export.

The output is the prediction file ``ecomrel eval`` reads (:mod:`ecomrel.data.schema`):
``query_id, product_id, score, pred_grade, [p_0..p_3], expected_grade, [tier], [argmax_grade],
[calibrated_score]``.

**Decisions** (:mod:`ecomrel.decisions`). ``pred_grade`` comes from the cut points saved beside the
model (``decisions.json``), not from argmax (kept as ``argmax_grade``); ``calibrated_score`` is the
expected grade mapped to the source's own scale (Home Depot's 1–3 mean) by the saved isotonic
map. With ``decisions="auto"`` a model folder without ``decisions.json`` gets one fitted on the
``tune_split`` (dev) pairs of the data folder and saved beside the model (beside the output when
the model folder is read-only); ``"refit"`` always refits; ``"none"`` keeps argmax. A lexical
baseline's grades are its own saved score cuts; its ``<method>_decisions.json`` adds the calibration.
The judge's grades are its argmax unless decisions say otherwise, and its tiers are its CumPT.
"""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from ecomrel.data.schema import Dataset
from ecomrel.decisions import DECISIONS_FILE, Decisions, apply_decisions, find_decisions, fit_decisions
from ecomrel.errors import ConfigError, DataError

Kind = Literal["student", "onnx", "judge", "baseline"]
DecisionMode = Literal["auto", "refit", "none"]
KEYS = ["query_id", "product_id"]
THRESHOLDS_SUFFIX = "_thresholds.json"


@dataclass
class ModelRef:
    """A model found by :func:`detect_model`: its kind, where it lies, where its decisions go."""

    kind: Kind
    path: Path
    decisions_path: Path
    method: str | None = None  # baseline
    base: str | None = None  # judge: the base model under the adapter
    adapter: Path | None = None  # judge


def _is_causal_lm(folder: Path) -> bool:
    try:
        arch = json.loads((folder / "config.json").read_text()).get("architectures") or []
    except (OSError, json.JSONDecodeError):
        return False
    return any(str(a).endswith("ForCausalLM") for a in arch)


def _baseline_ref(path: Path) -> ModelRef:
    method = path.name[: -len(THRESHOLDS_SUFFIX)]
    return ModelRef("baseline", path, path.with_name(f"{method}_decisions.json"), method=method)


def detect_model(model: str | Path, base: str | None = None) -> ModelRef:
    """The kind of the model at ``model`` from its files; a one-line ``DataError`` otherwise."""
    from ecomrel.export.onnx import FP32_NAME, INT8_NAME

    path = Path(model)
    if not path.exists():
        raise DataError(f"--model {path}: no such file or folder")
    if path.is_file():
        if path.name.endswith(THRESHOLDS_SUFFIX):
            return _baseline_ref(path)
        raise DataError(f"--model {path}: a file, but not a baseline's <method>{THRESHOLDS_SUFFIX}")

    if (path / "primary.txt").is_file():  # a pipeline's distill stage folder: its primary student
        primary = Path((path / "primary.txt").read_text().strip())
        if primary.is_dir():
            path = primary

    def is_onnx(folder: Path) -> bool:
        return (folder / FP32_NAME).exists() or (folder / INT8_NAME).exists()

    if is_onnx(path):
        return ModelRef("onnx", path, path / DECISIONS_FILE)
    if (path / "adapter_config.json").is_file():
        if base is None:
            try:
                recorded = json.loads((path / "adapter_config.json").read_text()).get(
                    "base_model_name_or_path"
                )
            except (OSError, json.JSONDecodeError):
                recorded = None
            base = recorded if recorded and Path(str(recorded)).is_dir() else "smollm2"
        return ModelRef("judge", path, path / DECISIONS_FILE, base=base, adapter=path)
    if (path / "config.json").is_file() and _is_causal_lm(path):
        return ModelRef("judge", path, path / DECISIONS_FILE, base=str(path))
    for cand in (path, path / "model", path / "student" / "model"):
        if (cand / "config.json").exists() and (
            (cand / "model.safetensors").exists() or (cand / "modules.json").exists()
        ):
            return ModelRef("student", cand, cand / DECISIONS_FILE)
    if is_onnx(path / "onnx"):  # a distill folder with only its export
        return ModelRef("onnx", path / "onnx", path / "onnx" / DECISIONS_FILE)
    thresholds = sorted(path.glob(f"*{THRESHOLDS_SUFFIX}"))
    thresholds = [t for t in thresholds if t.name != "cumpt_thresholds.json"]
    if len(thresholds) == 1:
        return _baseline_ref(thresholds[0])
    if len(thresholds) > 1:
        names = ", ".join(t.name for t in thresholds)
        raise DataError(f"--model {path}: several baselines here ({names}); pass one of the files")
    raise DataError(
        f"--model {path}: not an ecomrel model folder (expected a student: config.json + model.safetensors; "
        "an ONNX export: model.onnx; a judge: adapter_config.json; or a baseline's *_thresholds.json)"
    )


# --- scoring, per kind -----------------------------------------------------------------------


def _pairs(ds: Dataset, splits: list[str] | None) -> pd.DataFrame:
    try:
        frames = [ds.pairs()] if splits is None else [ds.pairs(s) for s in splits]
        pairs = pd.concat(frames, ignore_index=True)
    except KeyError as exc:
        raise DataError(str(exc).strip("'\"")) from None
    pairs["query_id"] = pairs["query_id"].astype(str)
    pairs["product_id"] = pairs["product_id"].astype(str)
    return pairs.drop_duplicates(KEYS).sort_values(KEYS, kind="stable").reset_index(drop=True)


def _tiers(folder: Path, probs: np.ndarray) -> np.ndarray:
    from ecomrel.grades import DEFAULT_SCALE
    from ecomrel.llm.cumpt import THRESHOLDS_FILE, CumPT, default_tiers

    path = next(
        (d / THRESHOLDS_FILE for d in (folder, folder.parent) if (d / THRESHOLDS_FILE).is_file()), None
    )
    cumpt = CumPT.load(path, DEFAULT_SCALE) if path else CumPT.single_beta(0.5, default_tiers(DEFAULT_SCALE))
    return cumpt.assign(probs)


def _frame(pairs: pd.DataFrame, probs: np.ndarray, folder: Path) -> pd.DataFrame:
    from ecomrel.student.predict import prediction_frame

    out = prediction_frame(pairs[KEYS], probs)
    out["tier"] = _tiers(folder, probs)
    return out


def _score_student(ref: ModelRef, pairs: pd.DataFrame, batch_size: int) -> pd.DataFrame:
    from ecomrel.student.model import load_student
    from ecomrel.student.predict import predict_proba
    from ecomrel.student.recipe import StudentRecipe

    recipe = StudentRecipe.load(ref.path)
    model = load_student(ref.path, device="cpu", max_length=recipe.max_length)
    texts = [recipe.product_text(r) for r in pairs.to_dict("records")]
    probs = predict_proba(model, pairs["query"].fillna("").astype(str).tolist(), texts, batch_size=batch_size)
    return _frame(pairs, probs, ref.path)


def _score_onnx(ref: ModelRef, pairs: pd.DataFrame, batch_size: int, variant: str | None, threads: int):
    from ecomrel.export.onnx import INT8_NAME, OnnxStudent

    variant = variant or ("int8" if (ref.path / INT8_NAME).exists() else "fp32")
    student = OnnxStudent(ref.path, variant=variant, threads=threads)
    texts = [student.recipe.product_text(r) for r in pairs.to_dict("records")]
    probs = student.predict_proba(
        pairs["query"].fillna("").astype(str).tolist(), texts, batch_size=batch_size
    )
    return _frame(pairs, probs, ref.path)


def _score_baseline(ref: ModelRef, ds: Dataset, pairs: pd.DataFrame) -> pd.DataFrame:
    from ecomrel.baselines.lexical import GradeThresholds, score_pairs

    try:
        thr = GradeThresholds.load(ref.path)
    except (OSError, TypeError, json.JSONDecodeError) as exc:
        raise DataError(f"{ref.path}: not a readable baseline thresholds file ({exc})") from None
    method = thr.method or ref.method or ""
    description = bool(thr.meta.get("description", False))
    # the corpus is every judged product of the folder, as `ecomrel baseline` scores it (IDF)
    every = _pairs(ds, None)
    scores = pd.Series(
        score_pairs(method, every, description=description), index=pd.MultiIndex.from_frame(every[KEYS])
    )
    s = scores.loc[pd.MultiIndex.from_frame(pairs[KEYS])].to_numpy(dtype=float)
    return pd.DataFrame(
        {
            "query_id": pairs["query_id"].to_numpy(),
            "product_id": pairs["product_id"].to_numpy(),
            "score": s,
            "pred_grade": thr.predict(s).astype("int64"),
            "expected_grade": thr.expected_grade(s),
        }
    )


def _score_judge(
    ref: ModelRef, data: Path, split: str | None, work: Path, template: str | None, threads: int
) -> pd.DataFrame:
    from ecomrel.llm.judge import run_judge
    from ecomrel.llm.judge_config import JudgeConfig

    opts: dict[str, Any] = {"model": ref.base or "smollm2", "adapter": ref.adapter, "threads": threads}
    if template is not None:
        opts["template"] = template
    config = JudgeConfig(data=data, out=work, split=split, **opts)
    result = run_judge(config)
    return pd.read_parquet(result["scores"])


# --- the entry points --------------------------------------------------------------------------


def _writable(folder: Path) -> bool:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / ".ecomrel_write_probe"
        probe.write_text("")
        probe.unlink()
        return True
    except OSError:
        return False


def _score(
    ref: ModelRef,
    ds: Dataset,
    data: Path,
    splits: list[str] | None,
    *,
    work: Path,
    batch_size: int,
    variant: str | None,
    threads: int,
    template: str | None,
) -> pd.DataFrame:
    if ref.kind == "judge":
        frames = [
            _score_judge(ref, data, s, work / (s or "all"), template, threads)
            for s in (splits if splits is not None else [None])
        ]
        return pd.concat(frames, ignore_index=True).drop_duplicates(KEYS).reset_index(drop=True)
    pairs = _pairs(ds, splits)
    if pairs.empty:
        raise DataError(
            f"{data}: no judged pairs to score" + (f" in split(s) {', '.join(splits)}" if splits else "")
        )
    if ref.kind == "student":
        return _score_student(ref, pairs, batch_size)
    if ref.kind == "onnx":
        return _score_onnx(ref, pairs, batch_size, variant, threads)
    return _score_baseline(ref, ds, pairs)


def predict_with_info(
    model: str | Path,
    data: str | Path,
    split: str | None = None,
    *,
    decisions: DecisionMode = "auto",
    tune_split: str = "dev",
    out: str | Path | None = None,
    batch_size: int = 64,
    variant: str | None = None,
    threads: int = 1,
    base: str | None = None,
    template: str | None = None,
    work_dir: str | Path | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """:func:`predict` and what it did: kind, decisions file and whether it was fitted now."""
    if decisions not in ("auto", "refit", "none"):
        raise ConfigError(f"--decisions {decisions!r}: choose auto, refit or none")
    t0 = time.perf_counter()
    ref = detect_model(model, base=base)
    data = Path(data)
    ds = Dataset.load(data)
    if split is not None and (ds.splits is None or split not in set(ds.splits["split"])):
        known = ", ".join(sorted(ds.splits["split"].unique())) if ds.splits is not None else "none"
        raise DataError(f"{data}: no split {split!r} (splits: {known})")
    out_path = Path(out) if out is not None else None
    work = (
        Path(work_dir)
        if work_dir is not None
        else (
            out_path.with_name(out_path.stem + "_judge") if out_path is not None else data / "predict_judge"
        )
    )
    info: dict[str, Any] = {
        "kind": ref.kind,
        "model": str(ref.path),
        "decisions": None,
        "decisions_fitted": False,
    }

    existing = None
    name = ref.decisions_path.name
    if decisions == "auto":
        found = find_decisions(ref.decisions_path.parent, name)
        if found is None and out_path is not None:
            beside = out_path.with_name(out_path.stem + "_" + DECISIONS_FILE)
            found = beside if beside.is_file() else None
        existing = Decisions.load(found) if found is not None else None
        if existing is not None:
            info["decisions"] = str(found)
    need_fit = decisions == "refit" or (decisions == "auto" and existing is None)
    has_tune = ds.splits is not None and tune_split in set(ds.splits["split"])
    if need_fit and not has_tune:
        if decisions == "refit":
            raise DataError(f"{data}: no split {tune_split!r} to fit grade decisions on")
        need_fit = False
        info["note"] = f"no decisions file and no {tune_split!r} split: grades are the model's own"

    score_splits = None if split is None else sorted({split, tune_split} if need_fit else {split})
    kw = {
        "work": work,
        "batch_size": batch_size,
        "variant": variant,
        "threads": threads,
        "template": template,
    }
    scored = _score(ref, ds, data, score_splits, **kw)

    dec = existing
    if need_fit:
        tune_q = ds.split_queries(tune_split)
        tune_pred = scored[scored["query_id"].isin(tune_q)]
        dec = fit_decisions(
            tune_pred, ds.judgments, meta={"data": str(data), "split": tune_split, "model": str(ref.path)}
        )
        target = ref.decisions_path
        if not _writable(target.parent):
            if out_path is None:
                raise DataError(
                    f"{target.parent}: read-only model folder; pass --out to save decisions beside it"
                )
            target = out_path.with_name(out_path.stem + "_" + DECISIONS_FILE)
        info["decisions"] = str(dec.save(target))
        info["decisions_fitted"] = True
    if split is not None:
        scored = scored[scored["query_id"].isin(ds.split_queries(split))]
    scored = scored.reset_index(drop=True)
    if dec is not None:
        scored = apply_decisions(scored, dec, grades=ref.kind != "baseline")
        info["cuts"] = dec.cuts
        info["calibrated"] = dec.calibration is not None
    info["n_pairs"] = len(scored)
    if out_path is not None:
        from ecomrel.baselines.runner import write_predictions

        info["predictions"] = str(write_predictions(scored, out_path))
    info["seconds"] = round(time.perf_counter() - t0, 3)
    return scored, info


def predict(
    model: str | Path,
    data: str | Path,
    split: str | None = None,
    *,
    decisions: DecisionMode = "auto",
    tune_split: str = "dev",
    out: str | Path | None = None,
    **options: Any,
) -> pd.DataFrame:
    """Score the judged pairs of data folder ``data`` (one ``split``, or all) with the model at ``model``.

    Returns the prediction frame (and writes it to ``out`` when given). ``options``:
    ``batch_size``, ``variant`` (ONNX: int8 | fp32), ``threads``, ``base`` and ``template`` (judge),
    ``work_dir`` (the judge's resumable scoring folder). See the module docstring for decisions.
    """
    frame, _ = predict_with_info(
        model, data, split, decisions=decisions, tune_split=tune_split, out=out, **options
    )
    return frame


def run_predict(
    model: str | Path, data: str | Path, out: str | Path, split: str | None = None, **options: Any
) -> dict[str, Any]:
    """:func:`predict` into the file ``out``; returns kind, paths, decisions and counts."""
    _, info = predict_with_info(model, data, split, out=out, **options)
    return info


def calibrate(
    model: str | Path,
    data: str | Path,
    split: str = "dev",
    *,
    out: str | Path | None = None,
    **options: Any,
) -> dict[str, Any]:
    """Fit decisions on ``split`` of ``data``; save them beside the model (``ecomrel calibrate``)."""
    frame, info = predict_with_info(model, data, split, decisions="refit", tune_split=split, **options)
    dec = Decisions.load(info["decisions"])
    info.update(
        objective=dec.objective,
        objective_value=dec.objective_value,
        argmax_objective_value=dec.argmax_objective_value,
        calibration_pairs=dec.fitted_on.get("n_calibration_pairs", 0),
    )
    if out is not None:
        with contextlib.suppress(OSError):
            Path(out).parent.mkdir(parents=True, exist_ok=True)
        dec.save(out)
        info["decisions"] = str(out)
    del frame
    return info
