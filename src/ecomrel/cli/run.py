"""``ecomrel run`` and ``ecomrel demo``: the whole pipeline from a config, or on the built-in sample."""

from __future__ import annotations

from pathlib import Path

import typer

from ecomrel.cli.common import friendly_errors, log_into
from ecomrel.config import load_config
from ecomrel.pipeline.runner import console, metrics_path, run_pipeline, summary_table

DEMO_STAGES = ["data", "baselines", "judge", "sft", "distill", "export", "serve", "rank"]
# Sized so that the whole demo runs in about a quarter of an hour on a 2-core CPU.
DEMO_OPTIONS = {
    "judge": {"limit": 100, "train_limit": 100},
    "sft": {"train": {"max_steps": 2}},
    "distill": {"train": {"max_train_pairs": 1500, "training_args": {"num_train_epochs": 1.0}}},
    "rank": {"config": {"tradeoff": {"alphas": [10.0], "betas": [0.6], "blend_weights": [0.5]}}},
}


@friendly_errors
def run_command(
    config: Path = typer.Argument(..., exists=True, dir_okay=False, help="Pipeline YAML."),
    set_: list[str] = typer.Option([], "--set", help="Override a config value: key.path=value (YAML value)."),
    force: list[str] = typer.Option(
        [], "--force", help="Re-run this stage even if complete ('all' for every stage)."
    ),
) -> None:
    """Run the stages a config names, in order, skipping those already complete."""
    cfg = load_config(config, set_)
    log_into(cfg.out)  # third-party warnings and debug records go to <out>/ecomrel.log
    run_pipeline(cfg, force=force)
    console.print(summary_table(cfg))
    console.print(f"metrics: {metrics_path(cfg.out)}")


@friendly_errors
def demo_command(
    out: Path = typer.Option(Path("runs/demo"), "--out", help="Run folder."),
    set_: list[str] = typer.Option([], "--set", help="Override a config value: key.path=value."),
    force: list[str] = typer.Option([], "--force", help="Re-run this stage even if complete ('all')."),
) -> None:
    """Run every stage on the built-in sample catalogue and the built-in small models."""
    cfg = load_config(None, [f"out={out}", f"stages={DEMO_STAGES}", f"options={DEMO_OPTIONS}", *set_])
    log_into(cfg.out)  # third-party warnings and debug records go to <out>/ecomrel.log
    run_pipeline(cfg, force=force)
    console.print(summary_table(cfg))
    console.print(f"metrics: {metrics_path(cfg.out)}")
