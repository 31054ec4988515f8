"""Stage ``rank``: Walmart's LLM content labels (sigmoid-polarized) blended with engagement → LambdaMART."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field

from ecomrel.errors import ConfigError
from ecomrel.pipeline.registry import StageContext, StageOptions, console, stage
from ecomrel.pipeline.stages.common import one_line_errors


class RankOptions(StageOptions):
    labels_from: Path | None = Field(
        None,
        description="Prediction file with grade distributions for every pair (default: the distilled "
        "student's scores; the LLM judge scores only a subset on a CPU).",
    )
    config: dict[str, Any] = Field(
        default_factory=dict, description="Any field of ecomrel.rank.rank_config.RankConfig."
    )

    def check(self) -> None:
        from ecomrel.rank.rank_config import RankConfig

        one_line_errors(lambda: RankConfig.model_validate(self.config), "options.rank.config")


@stage(
    "rank",
    options=RankOptions,
    reads=("data", "distill"),
    summary="Learning to rank (Walmart): polarized LLM labels blended with engagement, LambdaMART",
)
def rank_stage(ctx: StageContext) -> dict[str, dict[str, float]]:
    """The NDCG / engagement trade-off of label blends; the best blend against engagement-only."""
    from ecomrel.rank.rank_config import RankConfig
    from ecomrel.rank.tradeoff import run_tradeoff

    opts: RankOptions = ctx.options
    student = ctx.path_of("distill", "student_scores.parquet")
    labels_from = opts.labels_from or student
    if not Path(labels_from).exists():
        raise ConfigError(
            f"options.rank: no grade distributions at {labels_from}; run the distill stage or set "
            "options.rank.labels_from"
        )
    config = RankConfig.model_validate(opts.config)
    result = run_tradeoff(
        ctx.data_dir,
        labels_from,
        ctx.stage_dir,
        config=config,
        student_scores=student if student.exists() else None,
    )
    k = config.tradeoff.k
    picks = {"engagement_only": result["engagement_only"], "best_blend": result["best_blend"]}
    for r in result["table"]:
        if r["rule"] == "content_only":
            picks["content_only" if r["transform"] == "identity" else f"content_{r['transform']}"] = r
    rows = {
        f"rank:{label}": {f"ndcg@{k}": row[f"ndcg@{k}"], f"engagement@{k}": row[f"engagement@{k}"]}
        for label, row in picks.items()
        if row
    }
    console.print(
        f"rank: best blend {result['best_blend']['name'] if result['best_blend'] else None}; "
        f"criterion met: {result['criterion'].get('met')}"
    )
    return rows
