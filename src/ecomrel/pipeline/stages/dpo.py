"""Stage ``dpo``: DPO de-biasing of the SFT judge (LREF beam-error / TaoSR1 pass@N pairs), then the judge."""

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


class DPOOptions(StageOptions):
    train: dict[str, Any] = Field(
        default_factory=dict,
        description="Changes to the demo DPO config (any field of ecomrel.train.dpo_config.DPORunConfig, "
        "e.g. pairs: pass_at_n, training_args: {beta: 0.2}).",
    )
    limit: int | None = Field(
        None, ge=1, description="Test pairs the DPO judge scores (default: options.judge.limit or 150)."
    )
    train_limit: TrainLimit = 0
    row: str = Field("judge_sft_dpo", description="Name of the metrics row of the DPO judge.")

    def check(self) -> None:
        from ecomrel.train.dpo_config import demo_config

        one_line_errors(lambda: demo_config(".", ".", None, **self.train), "options.dpo.train")


@stage(
    "dpo",
    options=DPOOptions,
    reads=("data", "judge", "sft"),
    summary="DPO de-biasing (LREF/TaoSR1): the SFT judge's own wrong answers are rejected for right ones",
)
def dpo_stage(ctx: StageContext) -> dict[str, dict[str, float]]:
    """Mine pairs with the SFT judge, train DPO against it, score the same test pairs as the judge."""
    from ecomrel.train.dpo_config import demo_config
    from ecomrel.train.dpo_trainer import run_dpo

    opts: DPOOptions = ctx.options
    sft_adapter = ctx.path_of("sft", "model", "adapter")
    changes = {"seed": ctx.seed, "template": sft_template(ctx), **opts.train}
    config = demo_config(ctx.data_dir, ctx.stage_dir / "model", sft_adapter, **changes)
    result = run_dpo(config)
    score_train_pairs(ctx, opts.train_limit, result["adapter"], config.template)
    row = judge_row(ctx, opts.row, result["adapter"], limit=opts.limit, template=config.template)
    row.update(
        train_seconds=float(result["train_seconds"]),
        dpo_pairs=float(result["n_pairs"]),
        peak_rss_mb=float(result["peak_rss_mb"]),
    )
    return {opts.row: row}
