"""Stage ``predict``: the run's models score the test split with their saved decisions.

Each model of the run — the distill stage's primary student and the lexical baselines — is scored
by :func:`ecomrel.predict.run_predict`, as ``ecomrel predict`` does: grades from the cut points
of ``decisions.json`` beside the model (fitted on ``tune_split`` and saved there if absent) and
``calibrated_score`` on the source's scale where the data has one (Home Depot's 1–3). Each row is
evaluated on the test split, with ``raw_rmse`` through the saved calibration; the student's
argmax row (``<name>_argmax``) is kept beside it, so the table shows what the cut points gained.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from ecomrel.errors import ConfigError
from ecomrel.pipeline.registry import StageContext, StageOptions, console, stage


class PredictOptions(StageOptions):
    models: list[Literal["student", "bm25", "tfidf"]] = Field(
        default_factory=lambda: ["student", "bm25"],
        description="Which of the run's models to score: the distill stage's primary student, baselines.",
    )
    split: str = Field("test", description="Split scored and evaluated.")
    tune_split: str = Field("dev", description="Split the decisions are fitted on when a model has none.")
    refit: bool = Field(False, description="Refit decisions even when a model folder has them.")


def _model_path(ctx: StageContext, name: str) -> Path:
    if name == "student":
        from ecomrel.pipeline.stages.distill import primary_student

        return primary_student(ctx)
    path = ctx.path_of("baselines", f"{name}_thresholds.json")
    if not path.exists():
        raise ConfigError(f"options.predict.models: no {name} baseline at {path}; run the baselines stage")
    return path


@stage(
    "predict",
    options=PredictOptions,
    reads=("data", "baselines", "distill"),
    summary="Every model scores the test split with its saved grade cut points and calibration",
)
def predict_stage(ctx: StageContext) -> dict[str, dict[str, float]]:
    """Score the test split with each model's decisions; evaluate with the calibrated source scale."""
    import pandas as pd

    from ecomrel.eval import evaluate, record_predictions
    from ecomrel.predict import run_predict

    opts: PredictOptions = ctx.options
    gains = ctx.config.options.get("eval", {}).get("gains", "grade")
    rows: dict[str, dict[str, float]] = {}
    for name in opts.models:
        out = ctx.stage_dir / f"{name}_{opts.split}.parquet"
        info = run_predict(
            _model_path(ctx, name),
            ctx.data_dir,
            out,
            opts.split,
            decisions="refit" if opts.refit else "auto",
            tune_split=opts.tune_split,
        )
        scale = "calibrated" if info.get("calibrated") else "linear"
        row = f"{name}_decisions"
        record_predictions(ctx.out, row, out, split=opts.split, stage=ctx.name, gains=gains)
        rows[row] = evaluate(ctx.data_dir, out, split=opts.split, gains=gains, raw_scale=scale).flat()
        pred = pd.read_parquet(out)
        if "argmax_grade" in pred.columns:
            argmax = pred.assign(pred_grade=pred["argmax_grade"])
            rows[f"{name}_argmax"] = evaluate(ctx.data_dir, argmax, split=opts.split, gains=gains).flat()
        console.print(
            f"predict: {name} ({info['kind']}) {info['n_pairs']:,} {opts.split} pairs; "
            f"decisions {'fitted on ' + opts.tune_split if info['decisions_fitted'] else 'loaded'}: "
            f"{info.get('decisions')}"
        )
    return rows
