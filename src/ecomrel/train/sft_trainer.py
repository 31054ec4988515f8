"""Multi-CoT SFT of the LLM judge: trl's SFTTrainer + peft LoRA, phase by phase, resumable.

``run_sft(config)`` runs the phases of :func:`ecomrel.train.curriculum.plan_phases` in order. Each
phase writes ``<output_dir>/<phase>/``: ``examples.parquet`` (what it trained on),
``checkpoint-N/`` every ``save_steps`` (adapter, optimizer, scheduler, RNG states),
``final/`` (adapter as safetensors, or full weights) and ``metrics.json`` (written last: a phase
with it is finished). Started again on the same folder, a run skips finished phases and resumes an
unfinished one from its last complete checkpoint, reaching the same weights as an uninterrupted
run. The last phase's ``final/`` is copied to ``<output_dir>/adapter`` (LoRA) or
``<output_dir>/model`` (full fine-tuning).

The same module is the entry point that ``accelerate launch`` runs on every process:
``python -m ecomrel.train.sft_trainer --config sft.yaml [--set key=value ...]``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from ecomrel.errors import ConfigError
from ecomrel.train import common
from ecomrel.train.common import latest_complete_checkpoint, peak_rss_mb, rich_progress_callback
from ecomrel.train.curriculum import Phase, phase_examples, plan_phases
from ecomrel.train.sft_config import TRAINING_DEFAULTS, SFTRunConfig

log = logging.getLogger(__name__)

DONE_FILE = "metrics.json"
FINAL_DIR = "final"


def lora_config(config: SFTRunConfig, model=None):
    """peft ``LoraConfig`` of ``config.lora`` (:func:`ecomrel.train.common.lora_config`)."""
    return common.lora_config(config.lora, model)


def trainer_args(config: SFTRunConfig, phase_dir: Path):
    """trl ``SFTConfig`` for one phase: :data:`TRAINING_DEFAULTS`, then ``config.training_args``;
    ecomrel owns ``output_dir``, the seeds and the precision flags (``precision: auto`` = bf16 on
    bf16 GPUs and AVX512-BF16/AMX CPUs)."""
    import torch
    from trl import SFTConfig

    user = dict(config.training_args)
    for old, new in (
        ("gradient_checkpointing", "activation_checkpointing"),
        ("gradient_checkpointing_kwargs", "activation_checkpointing_kwargs"),
    ):  # transformers 5 renamed them; the old names only warn
        if old in user and new not in user:
            user[new] = user.pop(old)
    defaults = {**TRAINING_DEFAULTS, "dataloader_pin_memory": torch.cuda.is_available()}
    owned = {
        "output_dir": str(phase_dir),
        "seed": config.seed,
        "data_seed": config.seed,
        **common.precision_flags(config.precision),
    }
    return common.build_training_args(SFTConfig, defaults, user, owned, "training_args")


def _load_start_model(config: SFTRunConfig, previous: Path | None):
    """(model, tokenizer, peft_config) a phase starts from: base + previous adapter, or previous weights."""
    from ecomrel.llm.models import load_model

    if config.finetune == "full":
        start = str(previous) if previous is not None else config.base_model
        model, tokenizer = load_model(start, threads=config.num_threads)
        return model, tokenizer, None
    model, tokenizer = load_model(config.base_model, threads=config.num_threads)
    if previous is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, str(previous), is_trainable=True)
        return model, tokenizer, None
    return model, tokenizer, lora_config(config, model)


def _log_losses(history: list[dict[str, Any]]) -> tuple[float | None, float | None]:
    losses = [float(h["loss"]) for h in history if "loss" in h]
    if not losses:
        return None, None
    return sum(losses) / len(losses), losses[-1]


def build_trainer(
    config: SFTRunConfig,
    phase_dir: Path,
    model,
    tokenizer,
    peft_config,
    dataset,
    callbacks: list[Any] | None = None,
    description: str = "sft",
):
    """trl ``SFTTrainer`` for one phase (peft wraps ``model`` when ``peft_config`` is given)."""
    from transformers import PrinterCallback
    from trl import SFTTrainer

    from ecomrel.train.sft_data import trainer_view

    args = trainer_args(config, phase_dir)
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=trainer_view(dataset, tokenizer),
        processing_class=tokenizer,
        peft_config=peft_config,
        callbacks=[rich_progress_callback(description), *(callbacks or [])],
    )
    trainer.remove_callback(PrinterCallback)
    kept = len(trainer.train_dataset)
    if kept == 0:
        raise ConfigError(
            f"training_args.max_length={args.max_length} leaves no completion token in any of "
            f"{len(dataset)} examples (prompts are longer); raise training_args.max_length"
        )
    if kept < len(dataset):
        log.warning("%d of %d examples dropped: prompt over max_length", len(dataset) - kept, len(dataset))
    return trainer


def _train_phase(
    config: SFTRunConfig,
    phase: Phase,
    phase_dir: Path,
    model,
    tokenizer,
    peft_config,
    dataset,
    callbacks: list[Any],
) -> tuple[Any, dict[str, Any]]:
    """Train one phase (resuming from its last checkpoint if any); save ``final/``; return the model."""
    resume_from = latest_complete_checkpoint(phase_dir) if config.resume else None
    trainer = build_trainer(
        config, phase_dir, model, tokenizer, peft_config, dataset, callbacks, description=f"sft {phase.name}"
    )
    start_step = 0
    if resume_from is not None:
        start_step = json.loads((resume_from / "trainer_state.json").read_text()).get("global_step", 0)
        log.info("phase %s: resuming from %s", phase.name, resume_from)
    t0 = time.perf_counter()
    trainer.train(resume_from_checkpoint=str(resume_from) if resume_from is not None else None)
    seconds = time.perf_counter() - t0
    final = phase_dir / FINAL_DIR
    trainer.save_model(str(final))
    if trainer.is_world_process_zero():
        tokenizer.save_pretrained(str(final))
    state = trainer.state
    mean_loss, last_loss = _log_losses(state.log_history)
    steps_here = max(state.global_step - start_step, 1)
    metrics = {
        "phase": phase.name,
        "kinds": list(phase.kinds),
        "steps": state.global_step,
        "train_loss": mean_loss,
        "final_loss": last_loss,
        "train_seconds": seconds,
        "seconds_per_step": seconds / steps_here,
        "resumed_from": str(resume_from) if resume_from is not None else None,
        "final_dir": str(final),
        "peak_rss_mb": peak_rss_mb(),
    }
    return trainer.model, metrics


def _write_json(path: Path, obj: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(obj, indent=2, default=str))
    tmp.replace(path)


def _clear_run(out: Path, phases: list[Phase]) -> None:
    """resume: false — start over, removing only what a previous run of ours wrote."""
    for p in phases:
        shutil.rmtree(out / p.name, ignore_errors=True)
    for name in ("adapter", "model", "chains.parquet", "metrics.json"):
        target = out / name
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()


def run_sft(config: SFTRunConfig, *, callbacks: list[Any] | None = None) -> dict[str, Any]:
    """Run every SFT phase of ``config``; return metrics (loss, time, peak RSS) and the adapter path.

    ``callbacks`` are extra ``transformers.TrainerCallback`` objects given to every phase's trainer.
    """
    import torch
    from accelerate import PartialState

    from ecomrel.train import sft_data

    if config.num_threads is not None:
        torch.set_num_threads(config.num_threads)
    import datasets

    datasets.disable_progress_bars()
    trainer_args(config, Path(config.output_dir))  # a bad training_args value fails before any work
    state = PartialState()
    out = Path(config.output_dir)
    phases = plan_phases(config)
    if state.is_main_process:
        if not config.resume:
            _clear_run(out, phases)
        out.mkdir(parents=True, exist_ok=True)
        config.to_yaml(out / "config.yaml")
    state.wait_for_everyone()

    scale = sft_data.grade_scale(config.scale)
    pairs = products = None
    if config.examples is None:
        pairs, products = sft_data.load_training_data(
            config.data,
            config.split,
            config.max_pairs,
            config.seed,
            balance=config.balance_grades,
            train_pairs=config.train_pairs,
        )
        if pairs.empty:
            raise ValueError(f"{config.data}: no judged pairs in split {config.split!r}")

    t_start = time.perf_counter()
    previous: Path | None = Path(config.adapter) if config.adapter else None
    model = tokenizer = peft_config = None
    phase_metrics: list[dict[str, Any]] = []
    for phase in phases:
        phase_dir = out / phase.name
        done_file = phase_dir / DONE_FILE
        if config.resume and done_file.exists() and (phase_dir / FINAL_DIR).is_dir():
            log.info("phase %s already finished: skipped", phase.name)
            phase_metrics.append({**json.loads(done_file.read_text()), "skipped": True})
            previous, model = phase_dir / FINAL_DIR, None
            continue
        phase_dir.mkdir(parents=True, exist_ok=True)
        if model is None:
            model, tokenizer, peft_config = _load_start_model(config, previous)

        examples_file = phase_dir / "examples.parquet"
        report_file = phase_dir / "examples_report.json"
        with state.main_process_first():  # main builds (and scores, for DR); the others read its files
            if report_file.exists():  # written last: the phase's data is complete
                report = json.loads(report_file.read_text())
                dataset = (
                    sft_data.load_examples(examples_file)
                    if examples_file.exists()
                    else sft_data.empty_examples()
                )
            else:
                dataset, report = phase_examples(
                    phase,
                    config,
                    pairs=pairs,
                    model=model,
                    tokenizer=tokenizer,
                    scale=scale,
                    phase_dir=phase_dir,
                    run_dir=out,
                    products=products,
                )
                if state.is_main_process:
                    if len(dataset):
                        sft_data.save_examples(dataset, examples_file)
                    _write_json(report_file, report)
        if len(dataset) == 0:
            log.warning("phase %s has no examples: skipped", phase.name)
            phase_metrics.append({"phase": phase.name, "kinds": list(phase.kinds), "skipped": True, **report})
            continue

        model, metrics = _train_phase(
            config, phase, phase_dir, model, tokenizer, peft_config, dataset, list(callbacks or [])
        )
        peft_config = None  # later phases continue the same adapter
        metrics.update(report)
        if state.is_main_process:
            _write_json(done_file, metrics)
        state.wait_for_everyone()
        phase_metrics.append(metrics)
        previous = phase_dir / FINAL_DIR

    if previous is None or not previous.is_dir():
        raise ValueError("no phase produced a model (every phase had no examples)")
    final_name = "adapter" if config.finetune == "lora" else "model"
    final_dir = out / final_name
    if state.is_main_process and previous.resolve() != final_dir.resolve():
        shutil.rmtree(final_dir, ignore_errors=True)
        shutil.copytree(previous, final_dir)
    trained = [m for m in phase_metrics if not m.get("skipped") or "steps" in m]
    result = {
        "output_dir": str(out),
        "adapter": str(final_dir) if config.finetune == "lora" else None,
        "model_dir": str(final_dir),
        "base_model": config.base_model,
        "finetune": config.finetune,
        "curriculum": config.curriculum if config.examples is None else "examples",
        "phases": phase_metrics,
        "train_loss": trained[-1].get("train_loss") if trained else None,
        "final_loss": trained[-1].get("final_loss") if trained else None,
        "train_seconds": sum(float(m.get("train_seconds", 0.0)) for m in phase_metrics),
        "wall_seconds": time.perf_counter() - t_start,
        "steps": sum(int(m.get("steps", 0)) for m in trained),
        "peak_rss_mb": peak_rss_mb(),
        "precision": common.resolve_precision(config.precision),
        "num_processes": state.num_processes,
    }
    if state.is_main_process:
        _write_json(out / "metrics.json", result)
    state.wait_for_everyone()
    return result


def main(argv: list[str] | None = None) -> int:
    """Entry point for ``python -m ecomrel.train.sft_trainer`` (what ``accelerate launch`` runs)."""
    parser = argparse.ArgumentParser(prog="ecomrel.train.sft_trainer", description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, help="SFT YAML config")
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="key=value override")
    args = parser.parse_args(argv)
    logging.basicConfig(level=os.environ.get("ECOMREL_LOG", "WARNING"))
    config = SFTRunConfig.from_yaml(args.config, args.overrides)
    result = run_sft(config)
    print(json.dumps({k: v for k, v in result.items() if k != "phases"}, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
