"""``ecomrel rank ...``: LLM-label learning to rank (features, train, predict, trade-off)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from ecomrel.cli.common import friendly_errors

app = typer.Typer(
    help="Rank with LLM labels: features, LambdaMART, content/engagement trade-off.", no_args_is_help=True
)


PRESET_HELP = (
    "Config preset (the config's own fields win): content_only = human grades as labels with a linear "
    "gain, lexical + judge/student features; no engagement, price or category needed (Home Depot)."
)


def _console():
    from rich.console import Console

    return Console()


@app.command("features")
@friendly_errors
def features_command(
    data: Path = typer.Option(
        ..., "--data", help="Data folder (products, queries, judgments, engagement, splits)."
    ),
    judge: Path | None = typer.Option(None, "--judge", help="Judge prediction file (judge/scores.parquet)."),
    student: Path | None = typer.Option(None, "--student", help="Cross-encoder student prediction file."),
    out: Path = typer.Option(
        Path("rank/features"), "--out", help="Output folder for features.parquet/.json."
    ),
    config: Path | None = typer.Option(None, "--config", help="Rank config YAML (its `features` section)."),
    preset: str | None = typer.Option(None, "--preset", help=PRESET_HELP),
) -> None:
    """Compute the feature Parquet keyed by (query_id, product_id) and its feature list."""
    from ecomrel.rank.features import run_features
    from ecomrel.rank.rank_config import RankConfig

    cfg = RankConfig.from_yaml(config, preset)
    res = run_features(data, judge, out, student, cfg.features)
    typer.echo(json.dumps(res, indent=2))


@app.command("train")
@friendly_errors
def train_command(
    data: Path = typer.Option(..., "--data", help="Data folder (engagement log and splits)."),
    features: Path = typer.Option(
        Path("rank/features"), "--features", help="Folder from `ecomrel rank features`."
    ),
    config: Path | None = typer.Option(None, "--config", help="Rank config YAML (labels, ranker)."),
    out: Path = typer.Option(
        Path("rank/model"), "--out", help="Model folder (model.txt/.json + metadata.json)."
    ),
    split: str = typer.Option("train", "--split", help="Split whose queries are trained on."),
    preset: str | None = typer.Option(None, "--preset", help=PRESET_HELP),
) -> None:
    """Build labels from the config and train the LambdaMART ranker on one split."""
    from ecomrel.rank.rank_config import RankConfig
    from ecomrel.rank.ranker import train_from_folders

    res = train_from_folders(data, features, out, RankConfig.from_yaml(config, preset), split)
    typer.echo(json.dumps(res, indent=2))


@app.command("predict")
@friendly_errors
def predict_command(
    model: Path = typer.Option(Path("rank/model"), "--model", help="Model folder from `ecomrel rank train`."),
    features: Path = typer.Option(Path("rank/features"), "--features", help="Feature folder to score."),
    out: Path = typer.Option(Path("rank/predictions.parquet"), "--out", help="Prediction file to write."),
    split: str | None = typer.Option(None, "--split", help="Only rows of this split (default: all rows)."),
) -> None:
    """Score pairs with a trained ranker into a prediction file (query_id, product_id, score, pred_grade)."""
    from ecomrel.rank.ranker import predict_to_file

    typer.echo(json.dumps(predict_to_file(model, features, out, split), indent=2))


@app.command("tradeoff")
@friendly_errors
def tradeoff_command(
    data: Path = typer.Option(..., "--data", help="Data folder with engagement and splits."),
    judge: Path = typer.Option(..., "--judge", help="Judge prediction file (judge/scores.parquet)."),
    out: Path = typer.Option(Path("rank"), "--out", help="Output folder (tradeoff.json, tradeoff.png, ...)."),
    student: Path | None = typer.Option(None, "--student", help="Cross-encoder student prediction file."),
    config: Path | None = typer.Option(None, "--config", help="Rank config YAML (grids in `tradeoff`)."),
) -> None:
    """Train one ranker per label variant and show content NDCG@k against engagement@k."""
    from ecomrel.rank.rank_config import RankConfig
    from ecomrel.rank.tradeoff import run_tradeoff, tradeoff_table

    res = run_tradeoff(data, judge, out, RankConfig.from_yaml(config), student_scores=student)
    con = _console()
    con.print(tradeoff_table(res))
    crit, best = res["criterion"], res["best_blend"]
    if best is not None:
        verdict = "meets" if crit["met"] else "does NOT meet"
        con.print(
            f"best blend (chosen on {crit['selected_on']}): {best['name']} — {verdict} the criterion "
            f"(NDCG@{res['k']} up vs engagement-only, engagement loss ≤ "
            f"{res['config']['tradeoff']['max_engagement_loss']:.0%})",
            markup=False,
        )
    con.print(f"table: {res['paths']['table']}\nplot:  {res['paths']['plot']}", markup=False)
