"""``ecomrel train ...``: training commands (``distill``, ``sft``, ``grpo``; DPO joins this group)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from ecomrel.cli.common import friendly_errors

app = typer.Typer(
    help="Train models: the distilled cross-encoder student, the LLM judge.", no_args_is_help=True
)


@app.command("distill")
@friendly_errors
def distill(
    config: Path | None = typer.Option(None, "--config", "-c", help="DistillConfig YAML."),
    data: Path | None = typer.Option(None, "--data", help="Data folder (overrides data_dir)."),
    teacher: Path | None = typer.Option(None, "--teacher", help="Judge prediction file with p_0..p_3."),
    out: Path | None = typer.Option(None, "--out", help="Output folder."),
    human_only: bool | None = typer.Option(
        None, "--human-only/--distill", help="Baseline on human grades only / distil the judge (default)."
    ),
    epochs: float | None = typer.Option(None, "--epochs", help="Training epochs."),
    max_steps: int | None = typer.Option(None, "--max-steps", help="Stop after this many steps."),
    sets: list[str] | None = typer.Option(
        None, "--set", help="Any config field: key.sub=value (YAML value)."
    ),
    force: bool = typer.Option(False, "--force", help="Retrain even if out/model exists."),
) -> None:
    """Distil the judge's grade distributions into a MiniLM cross-encoder (KL + human CE)."""
    from ecomrel.train.distill_config import DistillConfig
    from ecomrel.train.distill_trainer import run_distill

    fields = {
        "data_dir": data,
        "teacher": teacher,
        "out": out,
        "human_only": human_only,
    }
    fields = {k: str(v) if isinstance(v, Path) else v for k, v in fields.items()}
    sets = list(sets or [])  # --epochs / --max-steps are CrossEncoderTrainingArguments fields
    sets += [f"training_args.num_train_epochs={epochs}"] if epochs is not None else []
    sets += [f"training_args.max_steps={max_steps}"] if max_steps is not None else []
    result = run_distill(DistillConfig.from_yaml(config, sets, fields), force=force)
    keys = ("model_dir", "predictions", "counts", "metrics")
    typer.echo(json.dumps({k: result[k] for k in keys}, indent=2))


@app.command("sft")
@friendly_errors
def sft(
    config: Path = typer.Option(..., "--config", "-c", help="SFT YAML (see examples/sft_multicot.yaml)."),
    sets: list[str] | None = typer.Option(None, "--set", help="Any config field: key.sub=value (YAML)."),
    accelerate_config: str | None = typer.Option(
        None,
        "--accelerate-config",
        help="Launch through accelerate: ddp, deepspeed_zero2, deepspeed_zero3, fsdp, cpu_single, or a file.",
    ),
    num_processes: int | None = typer.Option(
        None, "--num-processes", help="accelerate processes (default: the visible GPUs)."
    ),
) -> None:
    """Multi-CoT SFT of the judge with LoRA: LREF's EE → RA → DR curriculum, label-first targets."""
    overrides = list(sets or [])
    if accelerate_config:
        from ecomrel.train.launch import launch_sft

        try:
            result = launch_sft(config, accelerate_config, overrides, num_processes)
        except RuntimeError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None
    else:
        from ecomrel.train.sft_config import SFTRunConfig
        from ecomrel.train.sft_trainer import run_sft

        result = run_sft(SFTRunConfig.from_yaml(config, overrides))
    keys = ("adapter", "model_dir", "curriculum", "steps", "train_loss", "train_seconds", "peak_rss_mb")
    typer.echo(json.dumps({k: result.get(k) for k in keys}, indent=2, default=str))


@app.command("grpo")
@friendly_errors
def grpo(
    config: Path = typer.Option(..., "--config", "-c", help="GRPO YAML (see examples/grpo.yaml)."),
    sets: list[str] | None = typer.Option(
        None, "--set", help="Any config field: key.sub=value (YAML), e.g. training_args.beta=0.04."
    ),
) -> None:
    """GRPO of the judge (TaoSR1 stage 3): difficulty-based dynamic sampling, class-balanced pool, LoRA."""
    from ecomrel.train.grpo_config import GRPORunConfig
    from ecomrel.train.grpo_trainer import run_grpo

    result = run_grpo(GRPORunConfig.from_yaml(config, list(sets or [])))
    keys = (
        "adapter",
        "steps",
        "reward_first",
        "reward_last",
        "mean_kept_share",
        "steps_file",
        "train_seconds",
    )
    shown = {k: result.get(k) for k in keys}
    shown["rounds"] = [
        {k: r.get(k) for k in ("round", "kept_share", "cv_before", "cv_after", "pool_size")}
        for r in result.get("rounds", [])
    ]
    if "eval" in result:
        shown["eval"] = result["eval"]["metrics"]
    typer.echo(json.dumps(shown, indent=2, default=str))


@app.command("dpo")
@friendly_errors
def dpo(
    config: Path = typer.Option(..., "--config", "-c", help="DPO YAML (see docs/dpo.md)."),
    sets: list[str] | None = typer.Option(
        None,
        "--set",
        help="Any config field: key.sub=value (YAML), e.g. pairs=pass_at_n, training_args.beta=0.2.",
    ),
) -> None:
    """DPO de-biasing of the SFT judge on LREF beam-error or TaoSR1 pass@N (+ oracle) pairs."""
    from ecomrel.train.dpo_config import DPORunConfig
    from ecomrel.train.dpo_trainer import run_dpo

    result = run_dpo(DPORunConfig.from_yaml(config, list(sets or [])))
    keys = ("adapter", "pairs_file", "n_pairs", "pair_sources", "steps", "final_reward_margin")
    shown = {k: result.get(k) for k in keys}
    stats = result.get("pair_stats", {})
    shown["pair_stats"] = {k: v for k, v in stats.items() if k != "paper"}
    shown["eval"] = result.get("eval")
    typer.echo(json.dumps(shown, indent=2, default=str))
