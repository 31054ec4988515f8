"""Distil the LLM judge into a MiniLM cross-encoder with sentence-transformers' CrossEncoderTrainer.

LREF serves a BERT-size model distilled from its LLM; Walmart trains a cross-encoder student on
a teacher's scores over many unlabeled pairs. Here the student (a ``CrossEncoder`` with one logit
per grade) learns the judge's grade *distribution* with :class:`SoftLabelKLLoss` (KL) plus the human
grade where there is one (CE). Training pairs are the judged pairs of the train split, widened with
pairs the judge scored for train-split queries that no human graded (KL only). ``human_only``
trains the identical student on human grades alone: the baseline.

Outputs in ``config.out``::

    model/                     the student (safetensors + tokenizer + student.json recipe)
    checkpoints/checkpoint-N/  trainer checkpoints (resume_from_checkpoint)
    predictions_<split>.parquet  prediction file of the eval split (p_0..p_3, expected_grade, ...)
    metrics.json               student / teacher / human metrics on the eval split
    config.yaml                the resolved config
    timing.json                seconds of every segment (a killed and resumed run is several)

``targets: rater_distribution`` replaces the hard human grade by the grade distribution its rater
mean implies (:mod:`ecomrel.train.losses.rater_targets`), learnt by the same loss's soft CE term.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from ecomrel.data.pair_subset import restrict_to_pairs
from ecomrel.data.schema import DataError, Dataset
from ecomrel.eval import write_metrics_json
from ecomrel.student.model import DEFAULT_BASE_NAME, load_student, make_student
from ecomrel.student.predict import predict_proba, prediction_frame
from ecomrel.train.common import (
    build_training_args,
    latest_complete_checkpoint,
    precision_flags,
    resolve_precision,
    rich_progress_callback,
)
from ecomrel.train.distill_config import TRAINING_DEFAULTS, DistillConfig

MODEL_SUBDIR = "model"
CHECKPOINT_SUBDIR = "checkpoints"
TIMING_FILE = "timing.json"


class SegmentClock:
    """Wall-clock seconds of every call that worked on one ``out`` folder, kept in ``out/timing.json``.

    A run killed mid-way and resumed is several *segments*; each one's seconds are written to the
    file as it goes (at every checkpoint, every log line and at least every ``every`` seconds while
    training, and at the end), so the resumed call can report the total: ``seconds`` = the sum over
    segments (time lost after the last checkpoint of a killed segment included — it was spent),
    ``segment_seconds`` = this call alone. A run that starts training from scratch starts a new file.
    ``{"segments": [{"started": ISO time, "seconds": s, "finished": bool, "resumed_from": ...}]}``.
    """

    def __init__(
        self, path: Path, t0: float, *, continues: bool, resumed_from: str | None = None, every: float = 5.0
    ) -> None:
        self.path = Path(path)
        self.t0 = t0
        self.every = every
        self._last = 0.0
        prior: list[dict[str, Any]] = []
        if continues and self.path.exists():
            try:
                prior = list(json.loads(self.path.read_text()).get("segments", []))
            except (ValueError, AttributeError):
                prior = []  # a torn file: this segment's seconds are still right
        self.prior_seconds = float(sum(float(seg.get("seconds") or 0) for seg in prior))
        self.segments = [
            *prior,
            {
                "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
                "seconds": 0.0,
                "finished": False,
                "resumed_from": resumed_from,
            },
        ]
        self.tick()

    @property
    def segment_seconds(self) -> float:
        return time.perf_counter() - self.t0

    @property
    def total_seconds(self) -> float:
        return self.prior_seconds + self.segment_seconds

    def tick(self, finished: bool = False, force: bool = True) -> None:
        now = time.perf_counter()
        if not force and now - self._last < self.every:
            return
        self._last = now
        self.segments[-1].update(seconds=round(now - self.t0, 3), finished=finished)
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps({"segments": self.segments}, indent=1))
        tmp.replace(self.path)

    def callback(self):
        """A ``transformers.TrainerCallback`` that ticks the clock while the trainer runs."""
        from transformers import TrainerCallback

        clock = self

        class _Tick(TrainerCallback):
            def on_step_end(self, args, state, control, **kwargs):
                clock.tick(force=False)

            def on_save(self, args, state, control, **kwargs):
                clock.tick()

            def on_log(self, args, state, control, **kwargs):
                clock.tick()

        return _Tick()


# --- data -------------------------------------------------------------------------------------


def load_teacher(path: str | Path, num_labels: int) -> tuple[pd.DataFrame, int]:
    """Teacher grade distributions from a prediction file; returns (frame, rows dropped as invalid).

    Rows whose probabilities are missing, negative or sum to 0 are dropped; the rest are
    renormalised to sum 1. Duplicated pairs keep their last row.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: teacher prediction file not found (run the judge first, or set human_only)")
    df = pd.read_parquet(path)
    cols = [f"p_{k}" for k in range(num_labels)]
    missing = [c for c in ["query_id", "product_id", *cols] if c not in df.columns]
    if missing:
        raise DataError(
            f"{path}: teacher file lacks column(s) {', '.join(missing)} (needs grade probabilities)"
        )
    df = df[["query_id", "product_id", *cols]].copy()
    df["query_id"] = df["query_id"].astype(str)
    df["product_id"] = df["product_id"].astype(str)
    p = df[cols].to_numpy(dtype=np.float64)
    ok = np.isfinite(p).all(1) & (p >= 0).all(1) & (p.sum(1) > 0)
    dropped = int((~ok).sum())
    df = df[ok].copy()
    p = p[ok]
    df[cols] = p / p.sum(1, keepdims=True)
    df = df.drop_duplicates(["query_id", "product_id"], keep="last")
    return df.reset_index(drop=True), dropped


def build_frames(config: DistillConfig) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, int]]:
    """(train, eval, counts). Each frame: query_id, product_id, query, product, grade (-1 = none), p_*.

    ``eval`` keeps ``true_grade`` when the data has it and the teacher's p_* where it scored the pair.
    Teacher pairs of eval/test queries never enter training.
    """
    recipe = config.recipe
    k = recipe.num_labels
    pcols = [f"p_{i}" for i in range(k)]
    ds = Dataset.load(config.data_dir)
    train_q = ds.split_queries(config.train_split)
    if not train_q:
        raise DataError(f"{config.data_dir}: split {config.train_split!r} has no queries")
    labeled = ds.pairs(config.train_split)
    labeled = labeled[labeled["grade"].notna()].copy()
    if config.train_pairs is not None:
        labeled = restrict_to_pairs(labeled, config.train_pairs).copy()
    if config.max_train_pairs is not None and len(labeled) > config.max_train_pairs:
        labeled = labeled.sample(config.max_train_pairs, random_state=config.seed)
    eval_df = ds.pairs(config.eval_split)
    counts: dict[str, int] = {"labeled": len(labeled), "eval": len(eval_df)}

    teacher = None
    if config.teacher is not None:
        teacher, counts["teacher_invalid"] = load_teacher(config.teacher, k)
        counts["teacher_rows"] = len(teacher)
        eval_df = eval_df.merge(teacher, on=["query_id", "product_id"], how="left")
    if teacher is not None and not config.human_only:
        labeled = labeled.merge(teacher, on=["query_id", "product_id"], how="left")
        counts["labeled_with_teacher"] = int(labeled[pcols[0]].notna().sum())
        parts = [labeled]
        if config.use_unlabeled:
            j = ds.judgments
            judged = set(zip(j["query_id"].astype(str), j["product_id"].astype(str), strict=True))
            extra = teacher[teacher["query_id"].isin(train_q)]
            pairs = zip(extra["query_id"], extra["product_id"], strict=True)
            extra = extra[[(q, p) not in judged for q, p in pairs]]
            q = ds.queries[["query_id", "text"]].rename(columns={"text": "query"})
            extra = extra.merge(q, on="query_id", how="inner").merge(
                ds.products, on="product_id", how="inner"
            )
            if config.max_unlabeled is not None and len(extra) > config.max_unlabeled:
                extra = extra.sample(config.max_unlabeled, random_state=config.seed)
            extra["grade"] = -1
            counts["unlabeled"] = len(extra)
            parts.append(extra)
        train = pd.concat(parts, ignore_index=True)
    else:
        train = labeled
        for c in pcols:
            train[c] = np.nan

    def finish(df: pd.DataFrame) -> pd.DataFrame:
        out = pd.DataFrame(
            {
                "query_id": df["query_id"].astype(str).to_numpy(),
                "product_id": df["product_id"].astype(str).to_numpy(),
                "query": df["query"].fillna("").astype(str).to_numpy(),
                "product": [recipe.product_text(r) for r in df.to_dict("records")],
                "grade": df["grade"].fillna(-1).astype(int).to_numpy(),
            }
        )
        for c in pcols:
            out[c] = df[c].to_numpy(dtype=float) if c in df.columns else np.nan
        if "true_grade" in df.columns and df["true_grade"].notna().any():
            out["true_grade"] = df["true_grade"].to_numpy()
        for c in ("raw_score", "rater_count"):
            if c in df.columns:
                out[c] = pd.to_numeric(df[c], errors="coerce").to_numpy(dtype=float)
        return out

    train = finish(train)
    if len(train) == 0:
        raise DataError(f"{config.data_dir}: no training pairs in split {config.train_split!r}")
    counts["train_rows"] = len(train)
    if config.targets == "rater_distribution":
        counts.update(add_rater_targets(train, config))
    return train, finish(eval_df), counts


def human_target_columns(num_labels: int) -> list[str]:
    """Columns of the soft human target in a training frame (``targets: rater_distribution``)."""
    return [f"h_{i}" for i in range(num_labels)]


def add_rater_targets(train: pd.DataFrame, config: DistillConfig) -> dict[str, int]:
    """Add ``h_0..h_{K-1}``: the rater distribution of each labeled row's ``raw_score`` (see
    :mod:`ecomrel.train.losses.rater_targets`); NaN where the row has no raw score (it trains on its
    hard grade) or no human label at all. Returns counts ``rater_targets`` / ``rater_targets_fallback``.

    No raw score on any labeled row is a :class:`DataError`: the option would silently be ``hard``.
    """
    from ecomrel.train.losses.rater_targets import rater_distributions

    k = config.recipe.num_labels
    labeled = train["grade"].to_numpy() >= 0
    raw = np.full(len(train), np.nan)
    if "raw_score" in train.columns:
        raw = train["raw_score"].to_numpy(dtype=float)
    raw = np.where(labeled, raw, np.nan)
    if not np.isfinite(raw).any():
        raise DataError(
            f"{config.data_dir}: targets: rater_distribution needs judgments.raw_score (a rater mean, e.g. "
            "Home Depot's relevance); no training pair has one. Use targets: hard"
        )
    counts = train["rater_count"].to_numpy(dtype=float) if "rater_count" in train.columns else None
    try:
        h = rater_distributions(raw, k, config.rater_scale, None if counts is None else list(counts))
    except ValueError as exc:
        i = int(str(exc).split(":")[0].removeprefix("row "))
        raise DataError(
            f"{config.data_dir}: judgments.raw_score of pair ({train['query_id'].iat[i]}, "
            f"{train['product_id'].iat[i]}) = {raw[i]:g} lies outside rater_scale {list(config.rater_scale)}"
        ) from None
    for i, c in enumerate(human_target_columns(k)):
        train[c] = h[:, i]
    soft = int(np.isfinite(h).all(1).sum())
    return {"rater_targets": soft, "rater_targets_fallback": int(labeled.sum()) - soft}


# --- metrics ------------------------------------------------------------------------------------

GRADE_METRICS = ("accuracy", "f1_macro", "f1_weighted", "rmse")
"""What each ``<who>@<reference>`` row holds (plus ``n`` and ``ndcg@10``), all from :mod:`ecomrel.eval`."""


def grade_metrics(
    pred_grade: np.ndarray, score: np.ndarray, gold: np.ndarray, query_ids: np.ndarray
) -> dict[str, float]:
    """Accuracy, macro/weighted F1, RMSE (score vs gold grade) and NDCG@10 (ranked by score), by
    :func:`ecomrel.eval.array_metrics`."""
    from ecomrel.eval import array_metrics

    return array_metrics(
        np.asarray(gold, dtype=int),
        pred_grade=np.asarray(pred_grade, dtype=int),
        score=np.asarray(score, dtype=float),
        query_ids=np.asarray(query_ids),
        metrics=GRADE_METRICS,
    )


def evaluate_frame(eval_df: pd.DataFrame, probs: np.ndarray, num_labels: int) -> dict[str, dict[str, float]]:
    """Student (and teacher, human) metrics on one eval frame, keyed ``<who>@<reference>``."""
    pcols = [f"p_{i}" for i in range(num_labels)]
    grades = np.arange(num_labels)
    rows: dict[str, dict[str, float]] = {}
    qids = eval_df["query_id"].to_numpy()
    s_pred, s_exp = probs.argmax(1), probs @ grades
    human = eval_df["grade"].to_numpy()
    has_h = human >= 0
    refs = {"human": (human, has_h)}
    if "true_grade" in eval_df.columns:
        truth = eval_df["true_grade"].to_numpy(dtype=float)
        has_t = np.isfinite(truth)
        refs["truth"] = (np.nan_to_num(truth, nan=-1).astype(int), has_t)
        if has_t.any():
            m = has_t & has_h
            rows["human@truth"] = grade_metrics(
                human[m], human[m].astype(float), refs["truth"][0][m], qids[m]
            )
    for ref, (gold, mask) in refs.items():
        if mask.any():
            rows[f"student@{ref}"] = grade_metrics(s_pred[mask], s_exp[mask], gold[mask], qids[mask])
    if pcols[0] in eval_df.columns:
        t = eval_df[pcols].to_numpy(dtype=float)
        has_teacher = np.isfinite(t).all(1)
        if has_teacher.any():
            tp = t[has_teacher]
            t_pred, t_exp = tp.argmax(1), tp @ grades
            for ref, (gold, mask) in refs.items():
                m = mask[has_teacher]
                if m.any():
                    rows[f"teacher@{ref}"] = grade_metrics(
                        t_pred[m], t_exp[m], gold[has_teacher][m], qids[has_teacher][m]
                    )
            sp = np.clip(probs[has_teacher], 1e-12, 1)
            kl = (np.where(tp > 0, tp * np.log(np.clip(tp, 1e-12, 1) / sp), 0.0)).sum(1)
            rows["student~teacher"] = {
                "n": int(has_teacher.sum()),
                "kl": float(kl.mean()),
                "argmax_agreement": float((s_pred[has_teacher] == t_pred).mean()),
                "expected_grade_mae": float(np.abs(s_exp[has_teacher] - t_exp).mean()),
            }
    return rows


# --- training -----------------------------------------------------------------------------------


def training_arguments(config: DistillConfig, output_dir: str | Path, device: str):
    """``CrossEncoderTrainingArguments``: :data:`TRAINING_DEFAULTS`, then the user's ``training_args``;
    ecomrel owns ``output_dir``, the seeds, ``use_cpu`` and the precision flags."""
    from sentence_transformers.cross_encoder.training_args import CrossEncoderTrainingArguments

    owned = {
        "output_dir": str(output_dir),
        "seed": config.seed,
        "data_seed": config.seed,
        "use_cpu": device == "cpu",
        **precision_flags(config.precision, device),
    }
    return build_training_args(
        CrossEncoderTrainingArguments, TRAINING_DEFAULTS, config.training_args, owned, "training_args"
    )


def run_distill(config: DistillConfig, force: bool = False) -> dict[str, Any]:
    """Train (or resume) the student, save it as safetensors, evaluate it; return paths, counts and metrics.

    A finished student (``out/model/student.json``) is not retrained unless ``force``; it is only
    re-evaluated. Training resumes from the last checkpoint in ``out/checkpoints`` when
    ``config.resume`` (so ``force`` with a larger ``max_steps`` continues a finished run).
    ``metrics`` rows: ``student@human``, ``student@truth`` (sample data), ``teacher@human``,
    ``teacher@truth``, ``human@truth``, ``student~teacher``. ``seconds`` is the total over every
    segment that worked on ``out`` (a killed run resumed from its checkpoint adds up, see
    :class:`SegmentClock`); ``segment_seconds`` is this call's.
    """
    import torch
    from datasets import Dataset as HFDataset
    from sentence_transformers.cross_encoder import CrossEncoderTrainer
    from transformers import PrinterCallback, set_seed

    from ecomrel.progress import progress_enabled
    from ecomrel.train.losses.soft_label_kl import SoftLabelKLLoss, pack_labels

    t0 = time.perf_counter()
    precision = resolve_precision(config.precision, config.device)
    if config.num_threads:
        torch.set_num_threads(config.num_threads)
    device = config.device or ("cuda" if torch.cuda.is_available() else "cpu")
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.yaml").write_text(yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False))
    recipe = config.recipe
    k = recipe.num_labels
    pcols = [f"p_{i}" for i in range(k)]
    model_dir = out / MODEL_SUBDIR
    ckpt_dir = out / CHECKPOINT_SUBDIR

    args = training_arguments(config, ckpt_dir, device)  # a bad training_args field fails before any work
    train_df, eval_df, counts = build_frames(config)
    resumed_from = None
    trained = False
    train_loss: float | None = None
    if force or not (model_dir / "student.json").exists():
        set_seed(config.seed)
        model = make_student(config.base_model, recipe, device=device)
        probs = None if config.human_only else train_df[pcols].to_numpy(dtype=float)
        if probs is not None:
            probs = [None if not np.isfinite(r).all() else r.tolist() for r in probs]
        human_probs = None
        if config.targets == "rater_distribution":
            h = train_df[human_target_columns(k)].to_numpy(dtype=float)
            human_probs = [r.tolist() if np.isfinite(r).all() else None for r in h]
        labels = pack_labels(probs, train_df["grade"].tolist(), k, human_probs=human_probs)
        train_ds = HFDataset.from_dict(
            {"query": train_df["query"].tolist(), "product": train_df["product"].tolist(), "label": labels}
        )
        kl_w, ce_w = (0.0, 1.0) if config.human_only else (config.kl_weight, config.ce_weight)
        loss = SoftLabelKLLoss(model, kl_weight=kl_w, ce_weight=ce_w, temperature=config.temperature)
        last = latest_complete_checkpoint(ckpt_dir) if config.resume else None
        resumed_from = str(last) if last is not None else None
        clock = SegmentClock(out / TIMING_FILE, t0, continues=last is not None, resumed_from=resumed_from)
        callbacks = [rich_progress_callback("distill", ("loss", "kl", "ce"))] if progress_enabled() else []
        callbacks.append(clock.callback())
        trainer = CrossEncoderTrainer(
            model=model, args=args, train_dataset=train_ds, loss=loss, callbacks=callbacks
        )
        trainer.remove_callback(PrinterCallback)  # logs go to the progress bar and train_log.json
        result = trainer.train(resume_from_checkpoint=resumed_from)
        train_loss = float(result.training_loss)
        model.save_pretrained(str(model_dir), safe_serialization=True)
        trained = True
        history = [h for h in trainer.state.log_history if "loss" in h or "kl" in h or "ce" in h]
        (out / "train_log.json").write_text(json.dumps(history, indent=1))
    else:
        model = load_student(model_dir, device=device)
        clock = SegmentClock(out / TIMING_FILE, t0, continues=True)  # re-evaluation of a finished model

    recipe.save(
        model_dir,
        base_model=config.base_model or DEFAULT_BASE_NAME,
        human_only=config.human_only,
        mode=config.mode,
        teacher=str(config.teacher) if config.teacher is not None and not config.human_only else "none",
        kl_weight=0.0 if config.human_only else config.kl_weight,
        ce_weight=1.0 if config.human_only else config.ce_weight,
        temperature=config.temperature,
        targets=config.targets,
        train_rows=counts.get("train_rows"),
    )
    probs = predict_proba(
        model, eval_df["query"].tolist(), eval_df["product"].tolist(), config.eval_batch_size
    )
    pred_path = out / f"predictions_{config.eval_split}.parquet"
    prediction_frame(eval_df, probs).to_parquet(pred_path, index=False)
    metrics = evaluate_frame(eval_df, probs, k)
    result_dict: dict[str, Any] = {
        "model_dir": str(model_dir),
        "checkpoint_dir": str(ckpt_dir),
        "predictions": str(pred_path),
        "trained": trained,
        "resumed_from": resumed_from,
        "train_loss": train_loss,
        "human_only": config.human_only,
        "mode": config.mode,
        "teacher": str(config.teacher) if config.teacher is not None and not config.human_only else "none",
        "targets": config.targets,
        "precision": precision,
        "counts": counts,
        "metrics": metrics,
    }
    clock.tick(finished=True)
    result_dict.update(
        seconds=round(clock.total_seconds, 2),  # every segment of this out folder (resumes included)
        segment_seconds=round(clock.segment_seconds, 2),
        segments=len(clock.segments),
    )
    write_metrics_json(result_dict, out / "metrics.json")  # the one writer: valid JSON, null for NaN
    return result_dict
