"""Stage ``sft``: LREF Multi-CoT SFT of the judge (EE → RA → DR, LoRA), then the tuned judge."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from ecomrel.pipeline.registry import StageContext, StageOptions, stage
from ecomrel.pipeline.stages.common import TrainLimit, judge_row, one_line_errors, score_train_pairs


class SFTOptions(StageOptions):
    train: dict[str, Any] = Field(
        default_factory=dict,
        description="Changes to the demo SFT config (any field of ecomrel.train.sft_config.SFTRunConfig).",
    )
    limit: int | None = Field(
        None, ge=1, description="Test pairs the tuned judge scores (default: options.judge.limit or 150)."
    )
    train_limit: TrainLimit = 0
    row: str | None = Field(
        None,
        description="Name of the metrics row of the tuned judge (default: judge_sft_<curriculum>, e.g. "
        "judge_sft_sequential for EE → RA → DR, judge_sft_label_only for the grade alone).",
    )

    def check(self) -> None:
        from ecomrel.train.sft_config import demo_config

        one_line_errors(lambda: demo_config(".", ".", **self.train), "options.sft.train")


@stage(
    "sft",
    options=SFTOptions,
    reads=("data", "judge"),
    summary="Multi-CoT SFT (LREF): the judge learns expert-explaining, rule and reflection chains",
)
def sft_stage(ctx: StageContext) -> dict[str, dict[str, float]]:
    """Train the SFT judge, then score the same test pairs as the zero-shot judge."""
    from ecomrel.train.sft_config import demo_config
    from ecomrel.train.sft_trainer import run_sft

    opts: SFTOptions = ctx.options
    config = demo_config(ctx.data_dir, ctx.stage_dir / "model", **{"seed": ctx.seed, **opts.train})
    result = run_sft(config)
    score_train_pairs(ctx, opts.train_limit, result["adapter"], config.template)
    name = opts.row or f"judge_sft_{config.curriculum}"
    # the tuned judge is scored with the prompt it was trained on
    row = judge_row(ctx, name, result["adapter"], limit=opts.limit, template=config.template)
    row.update(
        train_seconds=float(result["train_seconds"]),
        train_steps=int(result["steps"]),
        # the mean token loss of the last logged steps: label-only at the uniform prior is ln(4)/2
        # (the grade token and the end-of-turn token), which the README compares against
        final_loss=result.get("final_loss"),
        peak_rss_mb=float(result["peak_rss_mb"]),
    )
    return {name: row}
