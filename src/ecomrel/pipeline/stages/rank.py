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
    if config.preset == "content_only" and not (ctx.data_dir / "engagement.parquet").exists():
        return _content_only(ctx, config, student if student.exists() else None)
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


def _content_only(ctx: StageContext, config: Any, student: Path | None) -> dict[str, dict[str, float]]:
    """No engagement (Home Depot: human grades on titles): one LambdaMART on the human grades with
    the lexical (+ student) features, trained on train, scored on test; no trade-off to draw."""
    from ecomrel.eval import evaluate, record_predictions
    from ecomrel.rank.features import run_features
    from ecomrel.rank.ranker import predict_to_file, train_from_folders

    features = ctx.stage_dir / "features"
    run_features(ctx.data_dir, None, features, student, config.features)
    train_from_folders(ctx.data_dir, features, ctx.stage_dir / "model", config, "train")
    out = ctx.stage_dir / "ranker_test.parquet"
    predict_to_file(ctx.stage_dir / "model", features, out, "test")
    gains = ctx.config.options.get("eval", {}).get("gains", "grade")
    record_predictions(ctx.out, "rank:content_only", out, split="test", stage=ctx.name, gains=gains)
    ranking = ("ndcg@5", "ndcg@10", "mrr")  # a ranker score is not a grade: ranking metrics only
    row = evaluate(ctx.data_dir, out, split="test", metrics=ranking, gains=gains).flat()
    console.print(
        f"rank: content_only LambdaMART (no engagement) ndcg@10 {row.get('ndcg@10', float('nan')):.4f}"
    )
    return {"rank:content_only": row}
