"""Stage ``baselines``: lexical rankers (BM25, TF-IDF) with grade cut points tuned on dev."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ecomrel.pipeline.registry import StageContext, StageOptions, stage
from ecomrel.pipeline.stages.common import evaluate_predictions


class BaselinesOptions(StageOptions):
    methods: list[Literal["bm25", "tfidf"]] = Field(
        default_factory=lambda: ["bm25", "tfidf"], description="Lexical baselines to run."
    )


@stage(
    "baselines",
    options=BaselinesOptions,
    summary="BM25 and TF-IDF: the lexical bar every learned stage must clear",
)
def baselines_stage(ctx: StageContext) -> dict[str, dict[str, float]]:
    """BM25 and TF-IDF rankers, grade cut points tuned on dev, scored on test."""
    from ecomrel.baselines import run_baseline

    rows = {}
    for method in ctx.options.methods:
        result = run_baseline(method, ctx.data_dir, ctx.stage_dir, tune_split="dev", eval_split="test")
        rows[method] = evaluate_predictions(ctx, result["predictions"], method)
    return rows
