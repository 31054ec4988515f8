"""GRPO of the LLM judge with difficulty-based dynamic sampling and a class-balanced pool (TaoSR1 §3.5).

trl's :class:`~trl.GRPOTrainer` does the optimisation (group sampling, group-relative advantage,
clipped ratio, KL to the reference); ecomrel adds what trl does not have (trl issue #3708): the
prompt pool follows the policy. Training runs in **rounds of K steps** (``sampling.resample_every``):

1. estimate each training prompt's pass rate with G samples of the current policy
   (:func:`ecomrel.llm.samplers.pass_at_n`);
2. keep prompts with ``0 < #correct < γ`` and down-sample them to a class-balanced pool
   (:func:`ecomrel.mining.difficulty.select_pool`); ``rounds/round-NNN.parquet`` + ``.json``;
3. train K steps of ``GRPOTrainer`` on that pool, resuming the optimizer, scheduler, RNG and step
   counter from the previous round's checkpoint (``max_steps`` is the run's total, so the LR
   schedule is the one of an uninterrupted run); a callback stops the round and saves a checkpoint.

A killed run restarts from the last complete checkpoint; the round's pool is read back, not
re-sampled. The LoRA adapter is trained on top of the start model (base + SFT/DPO adapter merged),
so disabling it gives the reference model trl's KL term needs.

Per-step log ``steps.jsonl`` in the output folder, one JSON object per logged step:
``step, round, reward, reward_std, kl, loss, rewards/<name>/mean, rewards/<name>/std,
frac_reward_zero_std, completions/mean_length, learning_rate, kept_share, cv_before, cv_after,
pool_size`` (and whatever else trl logs). ``rounds.jsonl``: one line per round with the
difficulty statistics.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ecomrel.errors import DataError
from ecomrel.grades import DEFAULT_SCALE, LREF_SCALE, GradeScale
from ecomrel.llm.models import write_adapter_stack
from ecomrel.mining.difficulty import group_counts, select_pool
from ecomrel.train.common import (
    build_training_args,
    latest_complete_checkpoint,
    lora_config,
    peak_rss_mb,
    precision_flags,
    rich_progress_callback,
)
from ecomrel.train.grpo_config import TRAINING_ARGS_DEFAULTS, GRPORunConfig
from ecomrel.train.rewards import GOLD_COLUMN, hallucination_stats, make_reward_funcs

log = logging.getLogger(__name__)

STEPS_FILE = "steps.jsonl"
ROUNDS_FILE = "rounds.jsonl"
DONE_FILE = "metrics.json"
CHECKPOINTS = "checkpoints"
PROGRESS_KEYS = ("reward", "kl")


def grade_scale(name: str) -> GradeScale:
    return LREF_SCALE if name == "lref" else DEFAULT_SCALE


# --- data ------------------------------------------------------------------------------------------
def load_prompts(config: GRPORunConfig, tokenizer, scale: GradeScale) -> pd.DataFrame:
    """``prompt, gold_grade`` (+ ``query_id, product_id`` from a data folder), a seeded sample if capped."""
    if config.examples is not None:
        path = Path(config.examples)
        if not path.exists():
            raise DataError("examples file not found", file=path)
        frame = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_json(path, lines=True)
        for col in ("prompt", GOLD_COLUMN):
            if col not in frame.columns:
                raise DataError(
                    f"missing column {col!r} (GRPO needs a rendered prompt and its gold grade)", file=path
                )
        bad = ~frame[GOLD_COLUMN].between(0, scale.max_grade)
        if bad.any():
            raise DataError(
                f"gold grade outside 0..{scale.max_grade}", file=path, row=int(np.flatnonzero(bad)[0])
            )
        frame = frame.assign(prompt=frame["prompt"].astype(str), gold_grade=frame[GOLD_COLUMN].astype(int))
    else:
        frame = pair_prompts(config.data, config.split, tokenizer, scale, template=config.template)
    if config.max_prompts is not None and len(frame) > config.max_prompts:
        frame = frame.sample(n=config.max_prompts, random_state=config.seed).sort_index()
    if frame.empty:
        raise DataError(
            f"no prompts to train on (split {config.split!r})", file=config.examples or config.data
        )
    return frame.reset_index(drop=True)


def pair_prompts(
    data: str | Path,
    split: str | None,
    tokenizer,
    scale: GradeScale,
    max_pairs: int | None = None,
    seed: int = 0,
    template: str | None = None,
) -> pd.DataFrame:
    """The judge prompt (``template``) of every judged pair of ``split`` with its gold grade (a seeded
    sample if capped)."""
    from ecomrel.data.schema import Dataset
    from ecomrel.llm.prompts import prompts_for_pairs

    ds = Dataset.load(data)
    pairs = ds.pairs(split) if split and ds.splits is not None else ds.pairs()
    if max_pairs is not None and len(pairs) > max_pairs:
        pairs = pairs.sample(n=max_pairs, random_state=seed).sort_index()
    pairs = pairs.reset_index(drop=True)
    return pd.DataFrame(
        {
            "prompt": prompts_for_pairs(pairs, tokenizer, scale, template),
            GOLD_COLUMN: pairs["grade"].astype(int).to_numpy(),
            "query_id": pairs["query_id"].astype(str).to_numpy(),
            "product_id": pairs["product_id"].astype(str).to_numpy(),
        }
    )


def _check_tokenization(tokenizer, prompt: str) -> None:
    """trl tokenizes a text prompt with ``tokenizer(text)``; the judge with ``encode`` — they must agree."""
    from ecomrel.llm.prompts import encode

    if list(tokenizer(text=prompt)["input_ids"]) != encode(tokenizer, prompt):
        log.warning(
            "this tokenizer adds special tokens to a rendered prompt: GRPO's prompts differ from the "
            "judge's by those tokens"
        )


# --- pass rates and the pool -----------------------------------------------------------------------
def estimate_pass_rates(
    model,
    tokenizer,
    prompts: Sequence[str],
    gold: Sequence[int],
    *,
    n: int,
    temperature: float,
    max_new_tokens: int,
    batch_size: int,
    seed: int,
    scale: GradeScale,
) -> pd.DataFrame:
    """Per prompt ``n, correct, malformed, pass_rate`` from ``n`` samples of the model (pass@N)."""
    from ecomrel.llm.samplers import pass_at_n

    was_training = model.training
    model.eval()
    try:
        samples = pass_at_n(
            model,
            tokenizer,
            list(prompts),
            n=n,
            temperature=temperature,
            seed=seed,
            max_new_tokens=max_new_tokens,
            batch_size=batch_size,
            scale=scale,
        )
    finally:
        model.train(was_training)
    return group_counts(samples, gold, n_prompts=len(prompts))


def _autocast(precision: str):
    """bf16 autocast for generation outside the trainer (the trainer autocasts its own steps)."""
    import contextlib

    import torch

    from ecomrel.train.common import resolve_precision

    if resolve_precision(precision) != "bf16":
        return contextlib.nullcontext()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.autocast(device_type=device, dtype=torch.bfloat16)


def _prompts_per_batch(args) -> int:
    return max(1, int(args.generation_batch_size) // int(args.num_generations))


def build_pool(
    config: GRPORunConfig, frame: pd.DataFrame, counts: pd.DataFrame | None, min_prompts: int, round_idx: int
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The round's training pool and its statistics (kept share, CV before/after, fallback, repeats)."""
    s = config.sampling
    labels = frame[GOLD_COLUMN].to_numpy(dtype=int)
    if counts is None:  # no dynamic sampling: every prompt is kept, then balanced
        counts = pd.DataFrame(
            {
                "n": np.zeros(len(frame), int),
                "correct": np.zeros(len(frame), int),
                "pass_rate": np.full(len(frame), np.nan),
            }
        )
    pool_idx, stats = select_pool(
        counts,
        labels,
        gamma=s.gamma,
        dynamic=s.dynamic,
        balance=s.balance,
        target_cv=s.target_cv,
        seed=config.seed + round_idx,
    )
    info: dict[str, Any] = {"round": round_idx, **stats.as_dict(), "fallback": False, "repeats": 1}
    if len(pool_idx) == 0:  # every group all right or all wrong: nothing is informative
        log.warning(
            "round %d: no prompt has 0 < #correct < gamma; training on the balanced full set", round_idx
        )
        pool_idx, fb = select_pool(
            counts,
            labels,
            dynamic=False,
            balance=s.balance,
            target_cv=s.target_cv,
            seed=config.seed + round_idx,
        )
        info.update(
            fallback=True,
            pool_size=fb.pool_size,
            cv_after=fb.cv_after,
            counts_after={str(k): v for k, v in fb.counts_after.items()},
        )
    pool = frame.iloc[pool_idx].reset_index(drop=True)
    if len(pool) < min_prompts:  # trl draws whole batches of prompts: repeat a small pool
        reps = math.ceil(min_prompts / len(pool))
        pool = pd.concat([pool] * reps, ignore_index=True)
        info["repeats"] = reps
    pool = pool.assign(pass_rate=counts["pass_rate"].to_numpy()[pool_idx].tolist() * info["repeats"])
    return pool, info


# --- callbacks -------------------------------------------------------------------------------------
def _round_callbacks(end_step: int, steps_file: Path, round_info: dict[str, Any]):
    from transformers import TrainerCallback

    class StopAtRoundEnd(TrainerCallback):
        """Ends ``trainer.train()`` after the round's last step and saves a checkpoint there."""

        def on_step_end(self, args, state, control, **kw):
            if state.global_step >= end_step:
                control.should_training_stop = True
                control.should_save = True
            return control

    class StepLog(TrainerCallback):
        """Appends every log (reward mean/std, KL, ...) with the round's kept share and CV to steps.jsonl."""

        def on_log(self, args, state, control, logs=None, **kw):
            if not logs or not state.is_world_process_zero or "reward" not in logs:
                return
            row: dict[str, Any] = {"step": state.global_step, "round": round_info["round"]}
            row.update(
                {k: float(v) for k, v in logs.items() if isinstance(v, int | float) and k != "total_flos"}
            )
            for k in ("kept_share", "cv_before", "cv_after", "pool_size", "fallback"):
                row[k] = round_info.get(k)
            with steps_file.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(_json_safe(row)) + "\n")

    return [StopAtRoundEnd(), StepLog()]


def _json_safe(obj: Any) -> Any:
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {str(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, np.generic):
        return _json_safe(obj.item())
    return obj


def _write_json(path: Path, obj: Any) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(_json_safe(obj), indent=2, default=str))
    tmp.replace(path)


def _truncate_jsonl(path: Path, last_step: int) -> None:
    """Drop lines logged after ``last_step`` (a killed run logged steps its checkpoint does not have)."""
    if not path.exists():
        return
    keep = [
        ln
        for ln in path.read_text().splitlines()
        if ln.strip() and json.loads(ln).get("step", 0) <= last_step
    ]
    path.write_text("".join(ln + "\n" for ln in keep))


def read_steps(output_dir: str | Path) -> pd.DataFrame:
    """The per-step log of a run (``steps.jsonl``) as a frame."""
    path = Path(output_dir) / STEPS_FILE
    if not path.exists():
        return pd.DataFrame()
    return pd.read_json(path, lines=True)


# --- model -----------------------------------------------------------------------------------------
def load_start_model(config: GRPORunConfig):
    """(policy with a fresh trainable LoRA adapter, tokenizer); the start model = base + merged adapter."""
    from peft import get_peft_model

    from ecomrel.llm.models import load_model

    model, tokenizer = load_model(
        config.base_model,
        adapter=config.adapter,
        merge_adapter=config.adapter is not None,
        threads=config.num_threads,
    )
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    import torch

    torch.manual_seed(config.seed)  # the LoRA init
    policy = get_peft_model(model, lora_config(config.lora, model))
    return policy, tokenizer


def adapter_state(model, name: str = "default") -> dict[str, Any]:
    """A copy of one LoRA adapter's parameters, keyed by parameter name."""
    return {n: p.detach().clone() for n, p in model.named_parameters() if f".{name}." in n}


def _prepare_reference(model) -> None:
    """Drop trl's frozen "ref" adapter before a new round's trainer re-creates it (it refuses a duplicate)."""
    if "ref" in getattr(model, "peft_config", {}):
        model.delete_adapter("ref")
        model.set_adapter("default")


def _pin_reference(model, start: dict[str, Any]) -> None:
    """Make trl's "ref" adapter the start adapter, so the KL reference stays the start model in every round.

    trl (beta > 0, a PeftModel) copies the *current* adapter into "ref" when a trainer is built; from
    the second round on that would be the trained policy, so the start weights are copied back.
    """
    if "ref" not in getattr(model, "peft_config", {}):
        return
    for name, param in model.named_parameters():
        if ".ref." in name:
            param.data.copy_(start[name.replace(".ref.", ".default.")])


def _load_adapter_weights(model, checkpoint: Path) -> None:
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    set_peft_model_state_dict(model, load_file(str(checkpoint / "adapter_model.safetensors")))


def grpo_arguments(config: GRPORunConfig, checkpoints: Path, reward_weights: list[float]):
    """The ``trl.GRPOConfig`` of a run: ecomrel's defaults, the user's ``training_args``, owned fields."""
    from trl import GRPOConfig

    defaults = {**TRAINING_ARGS_DEFAULTS, "save_steps": config.sampling.resample_every}
    owned = {
        "output_dir": str(checkpoints),
        "max_steps": config.max_steps,
        "num_train_epochs": 1,
        "seed": config.seed,
        "data_seed": config.seed,
        "reward_weights": reward_weights,
        "remove_unused_columns": False,  # the gold grade column reaches the reward functions
        "ignore_data_skip": True,  # every round trains on a new pool: never skip its first batches
        **precision_flags(config.precision),
    }
    return build_training_args(GRPOConfig, defaults, config.training_args, owned, what="training_args")


# --- the run ---------------------------------------------------------------------------------------
def run_grpo(config: GRPORunConfig, *, callbacks: list[Any] | None = None) -> dict[str, Any]:
    """Train the judge with GRPO in rounds of K steps on a difficulty-filtered, balanced pool.

    Returns (and writes to ``<output_dir>/metrics.json``) the adapter path, steps, reward at the
    start and end, per-round kept share and CV, times, and, with ``eval_split``, the evaluation.
    """
    import datasets
    import torch
    from transformers import PrinterCallback
    from trl import GRPOTrainer

    if config.num_threads is not None:
        torch.set_num_threads(config.num_threads)
    datasets.disable_progress_bars()
    out = Path(config.output_dir)
    done = out / DONE_FILE
    if config.resume and done.exists() and (out / "adapter").is_dir():
        log.info("%s already finished: skipped", out)
        return {**json.loads(done.read_text()), "skipped": True}
    out.mkdir(parents=True, exist_ok=True)
    (out / "rounds").mkdir(exist_ok=True)
    checkpoints = out / CHECKPOINTS
    resume_from = latest_complete_checkpoint(checkpoints) if config.resume else None
    if not config.resume:
        import shutil

        for p in (checkpoints, out / "rounds", out / "adapter"):
            shutil.rmtree(p, ignore_errors=True)
        (out / "rounds").mkdir()
        for f in (STEPS_FILE, ROUNDS_FILE, DONE_FILE):
            (out / f).unlink(missing_ok=True)
    config.to_yaml(out / "config.yaml")

    scale = grade_scale(config.scale)
    funcs, weights = make_reward_funcs(
        config.rewards.weights(),
        ordinal=config.rewards.ordinal,
        missing_verdict=config.rewards.missing_verdict,
        scale=scale,
    )
    args = grpo_arguments(config, checkpoints, weights)
    model, tokenizer = load_start_model(config)
    frame = load_prompts(config, tokenizer, scale)
    _check_tokenization(tokenizer, frame["prompt"].iloc[0])
    start_lora = adapter_state(model)  # the KL reference: start model + this (zero-effect) adapter
    if config.examples is None:
        frame[["query_id", "product_id", GOLD_COLUMN]].to_parquet(out / "prompts.parquet", index=False)

    done_step = 0
    if resume_from is not None:
        done_step = int(json.loads((resume_from / "trainer_state.json").read_text()).get("global_step", 0))
        _load_adapter_weights(model, resume_from)
        log.info("resuming from %s (step %d)", resume_from, done_step)
    _truncate_jsonl(out / STEPS_FILE, done_step)

    s = config.sampling
    k = s.resample_every if s.dynamic else config.max_steps
    n_rounds = math.ceil(config.max_steps / k)
    g = s.num_samples or int(args.num_generations)
    rounds: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    estimate_seconds = 0.0
    for r in range(n_rounds):
        start, end = r * k, min(config.max_steps, (r + 1) * k)
        pool_file, info_file = (
            out / "rounds" / f"round-{r:03d}.parquet",
            out / "rounds" / f"round-{r:03d}.json",
        )
        if end <= done_step and info_file.exists():
            rounds.append(json.loads(info_file.read_text()))
            continue
        if pool_file.exists() and info_file.exists():
            pool, info = pd.read_parquet(pool_file), json.loads(info_file.read_text())
        else:
            counts = None
            t_est = time.perf_counter()
            if s.dynamic:
                with _autocast(config.precision):
                    counts = estimate_pass_rates(
                        model,
                        tokenizer,
                        frame["prompt"].tolist(),
                        frame[GOLD_COLUMN].tolist(),
                        n=g,
                        temperature=s.temperature or float(args.temperature),
                        max_new_tokens=s.max_new_tokens or int(args.max_completion_length),
                        batch_size=s.batch_size,
                        seed=config.seed + 1000 * r,
                        scale=scale,
                    )
            pool, info = build_pool(config, frame, counts, _prompts_per_batch(args), r)
            info.update(
                start_step=start,
                end_step=end,
                num_samples=g if s.dynamic else 0,
                estimate_seconds=time.perf_counter() - t_est,
            )
            estimate_seconds += info["estimate_seconds"]
            pool.to_parquet(pool_file, index=False)
            _write_json(info_file, info)
            with (out / ROUNDS_FILE).open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(_json_safe(info)) + "\n")
            log.info(
                "round %d: kept %d of %d prompts (share %.2f), CV %.3f -> %.3f, pool %d",
                r,
                info["kept_by_difficulty"],
                info["prompts"],
                info["kept_share"],
                info["cv_before"],
                info["cv_after"],
                info["pool_size"],
            )
        rounds.append(info)
        train_ds = datasets.Dataset.from_pandas(pool[["prompt", GOLD_COLUMN]], preserve_index=False)
        _prepare_reference(model)
        trainer = GRPOTrainer(
            model=model,
            reward_funcs=funcs,
            args=args,
            train_dataset=train_ds,
            processing_class=tokenizer,
            callbacks=[
                rich_progress_callback(f"grpo round {r + 1}/{n_rounds}", PROGRESS_KEYS),
                *_round_callbacks(end, out / STEPS_FILE, info),
                *(callbacks or []),
            ],
        )
        trainer.remove_callback(PrinterCallback)
        _pin_reference(trainer.model, start_lora)
        trainer.train(resume_from_checkpoint=str(resume_from) if resume_from is not None else None)
        model = trainer.model
        done_step = int(trainer.state.global_step)
        resume_from = latest_complete_checkpoint(checkpoints)
    train_seconds = time.perf_counter() - t0

    adapter_dir = out / "adapter"
    model.save_pretrained(str(adapter_dir), selected_adapters=["default"])
    tokenizer.save_pretrained(str(adapter_dir))
    write_adapter_stack(adapter_dir, config.adapter)  # the start adapter was merged under this one
    steps = read_steps(out)
    result: dict[str, Any] = {
        "output_dir": str(out),
        "adapter": str(adapter_dir),
        "base_model": config.base_model,
        "start_adapter": config.adapter,
        "dynamic_sampling": s.dynamic,
        "steps": done_step,
        "rounds": rounds,
        "reward_first": float(steps["reward"].iloc[0]) if len(steps) else None,
        "reward_last": float(steps["reward"].iloc[-1]) if len(steps) else None,
        "mean_kept_share": float(np.mean([r_["kept_share"] for r_ in rounds])) if rounds else None,
        "train_seconds": train_seconds,
        "estimate_seconds": estimate_seconds,
        "steps_file": str(out / STEPS_FILE),
        "peak_rss_mb": peak_rss_mb(),
    }
    if config.eval_split is not None:
        eval_frame = pair_prompts(
            config.data,
            config.eval_split,
            tokenizer,
            scale,
            config.eval_max_pairs,
            config.seed,
            template=config.template,
        )
        with _autocast(config.precision):
            result["eval"] = evaluate_answers(
                model,
                tokenizer,
                eval_frame["prompt"].tolist(),
                eval_frame[GOLD_COLUMN].tolist(),
                max_new_tokens=config.eval_max_new_tokens,
                scale=scale,
            )
    _write_json(done, result)
    return result


# --- evaluation ------------------------------------------------------------------------------------
def evaluate_answers(
    model,
    tokenizer,
    prompts: Sequence[str],
    gold: Sequence[int],
    *,
    max_new_tokens: int = 24,
    batch_size: int = 8,
    scale: GradeScale = DEFAULT_SCALE,
    return_answers: bool = False,
) -> dict[str, Any]:
    """Greedy answers for ``prompts``, scored by :mod:`ecomrel.eval`: accuracy, macro-F1, per-grade F1
    (precision/recall), plus the malformed share and the discriminative-hallucination rate.

    A malformed answer (no leading grade) counts as grade 0 in the classification metrics.
    """
    from ecomrel.eval.classification import CLASSIFICATION_METRICS, classification_metrics
    from ecomrel.llm.samplers import generate

    was_training = model.training
    model.eval()
    try:
        answers = generate(
            model, tokenizer, list(prompts), max_new_tokens=max_new_tokens, batch_size=batch_size, scale=scale
        )
    finally:
        model.train(was_training)
    y_pred = answers["grade"].fillna(0).astype(int).to_numpy()
    wanted = ["accuracy", "f1_macro", "recall", "precision"]
    if "f1" in CLASSIFICATION_METRICS:  # per-grade F1 (f1_<grade name>)
        wanted.append("f1")
    metrics = classification_metrics(np.asarray(gold, dtype=int), y_pred, wanted, scale=scale)
    metrics["malformed_rate"] = float(answers["malformed"].mean()) if len(answers) else float("nan")
    metrics.update(
        {
            k: v
            for k, v in hallucination_stats(answers["text"].tolist(), scale).items()
            if k in ("hallucination_rate", "verdict_share")
        }
    )
    metrics["n"] = len(answers)
    out: dict[str, Any] = {"metrics": metrics}
    if return_answers:
        out["answers"] = answers
    return out
