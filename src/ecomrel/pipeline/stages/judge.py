"""Stage ``judge``: the zero-shot LLM judge's label-first grade probabilities on test pairs."""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field

from ecomrel.pipeline.registry import StageContext, StageOptions, stage
from ecomrel.pipeline.stages.common import (
    evaluate_predictions,
    judge_row,
    nested_config_check,
    run_judge_on,
)

PIPELINE_OWNED = {"data": ".", "out": ".", "split": "test", "limit": 1, "adapter": None}


class JudgeOptions(StageOptions):
    """``limit``/``train_limit`` plus any field of :class:`ecomrel.llm.judge_config.JudgeConfig`."""

    model_config = ConfigDict(extra="allow")

    limit: int = Field(150, ge=1, description="Test pairs (whole queries) the judge scores.")
    train_limit: int = Field(
        0, ge=0, description="Train pairs (whole queries) scored as the distillation teacher (0: none)."
    )
    dev_limit: int = Field(
        0,
        ge=0,
        description="Dev pairs (whole queries) every judge row (zero-shot, SFT, DPO, GRPO) scores to tune "
        "cut points on its expected grade, as the lexical baselines do (0: grades are the argmax).",
    )

    def check(self) -> None:
        from ecomrel.llm.judge_config import JudgeConfig

        nested_config_check(JudgeConfig, PIPELINE_OWNED, self.judge_config, "options.judge")

    @property
    def judge_config(self) -> dict[str, Any]:
        """The fields passed through to JudgeConfig."""
        return dict(self.model_extra or {})


@stage(
    "judge",
    options=JudgeOptions,
    reads=("data", "baselines"),
    summary="Zero-shot LLM judge: grade probabilities from one forward pass (label-first prompt)",
)
def judge_stage(ctx: StageContext) -> dict[str, dict[str, float]]:
    """Zero-shot judge on test pairs (and train pairs to distil); baselines re-scored on the subset."""
    opts: JudgeOptions = ctx.options
    rows = {"judge_zero_shot": judge_row(ctx, "judge_zero_shot", folder="{split}")}
    if opts.train_limit:
        run_judge_on(ctx, opts.judge_config, ctx.stage_dir / "train", "train", opts.train_limit)
    subset = ctx.stage_dir / "test" / "scores.parquet"
    for method in ("bm25", "tfidf"):
        baseline = ctx.path_of("baselines", f"{method}_predictions.parquet")
        if baseline.exists():
            rows[f"{method}@judge_subset"] = evaluate_predictions(
                ctx, baseline, f"{method}@judge_subset", subset
            )
    return rows
