"""Stage ``grpo``: TaoSR1 GRPO with difficulty-based dynamic sampling, from the DPO (or SFT) judge."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from ecomrel.pipeline.registry import StageContext, StageOptions, stage
from ecomrel.pipeline.stages.common import (
    TrainLimit,
    judge_row,
    one_line_errors,
    score_train_pairs,
    sft_template,
)


class GRPOOptions(StageOptions):
    train: dict[str, Any] = Field(
        default_factory=dict,
        description="Changes to the demo GRPO config (any field of ecomrel.train.grpo_config.GRPORunConfig, "
        "e.g. max_steps: 4, sampling: {gamma: 4}, training_args: {beta: 0.04}).",
    )
    limit: int | None = Field(
        None, ge=1, description="Test pairs the GRPO judge scores (default: options.judge.limit or 150)."
    )
    train_limit: TrainLimit = 0
    row: str = Field("judge_grpo", description="Name of the metrics row of the GRPO judge.")

    def check(self) -> None:
        from ecomrel.train.grpo_config import demo_config

        one_line_errors(lambda: demo_config(".", ".", **self.train), "options.grpo.train")


@stage(
    "grpo",
    options=GRPOOptions,
    reads=("data", "judge", "sft", "dpo"),
    summary="GRPO (TaoSR1): rewards for the right grade on prompts the judge sometimes gets right",
)
def grpo_stage(ctx: StageContext) -> dict[str, dict[str, float]]:
    """Start from the DPO adapter (else the SFT one), train GRPO, score the same test pairs."""
    from ecomrel.train.grpo_config import demo_config
    from ecomrel.train.grpo_trainer import run_grpo

    opts: GRPOOptions = ctx.options
    start = next(
        (
            p
            for p in (ctx.path_of("dpo", "model", "adapter"), ctx.path_of("sft", "model", "adapter"))
            if p.is_dir()
        ),
        None,
    )
    changes = {
        "seed": ctx.seed,
        "template": sft_template(ctx),
        **({"adapter": str(start)} if start else {}),
        **opts.train,
    }
    config = demo_config(ctx.data_dir, ctx.stage_dir / "model", **changes)
    result = run_grpo(config)
    score_train_pairs(ctx, opts.train_limit, result["adapter"], config.template)
    row = judge_row(ctx, opts.row, result["adapter"], limit=opts.limit, template=config.template)
    row["train_seconds"] = float(result["train_seconds"])
    return {opts.row: row}
