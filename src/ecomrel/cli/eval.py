"""``ecomrel eval``: score a prediction file against a data folder's judgments."""

from __future__ import annotations

import re
from pathlib import Path

import typer
from rich.console import Console

from ecomrel.cli.common import check_out_path, friendly_errors
from ecomrel.errors import ConfigError

console = Console()


def _gains(value: str) -> str | dict[int, float]:
    """A preset name, or an explicit map such as ``3:1,2:0.1,1:0.01,0:0``."""
    if ":" not in value:
        return value
    try:
        return {int(k): float(v) for k, v in (item.split(":") for item in value.split(","))}
    except ValueError:
        raise ConfigError(
            f"--gains {value!r}: expected a preset or grade:gain pairs like 3:1,2:0.1,1:0.01,0:0"
        ) from None


@friendly_errors
def eval_command(
    data: Path = typer.Option(
        ..., "--data", exists=True, file_okay=False, help="Data folder with judgments."
    ),
    pred: Path = typer.Option(..., "--pred", exists=True, dir_okay=False, help="Prediction file (Parquet)."),
    split: str | None = typer.Option(None, "--split", help="Evaluate only this split's queries (e.g. dev)."),
    out: Path | None = typer.Option(
        None, "--out", help="metrics.json to merge {stage: {metric: value}} into."
    ),
    stage: str = typer.Option("eval", "--stage", help="Name of this row in metrics.json."),
    metrics: str | None = typer.Option(
        None, "--metrics", help="Comma-separated metric names (default: all that the data allow)."
    ),
    gains: str = typer.Option(
        "grade",
        "--gains",
        help="NDCG gains: grade (the grade, linear) | source (the source label: raw_score minus the "
        "scale's lowest value, Home Depot's rater mean - 1) | raw-1 | esci | 3:1,2:0.1,1:0.01,0:0.",
    ),
    ndcg_queries: str = typer.Option(
        "all",
        "--ndcg-queries",
        help="all: NDCG over every query | graded: only over queries whose judged products do not all "
        "share one grade (an all-'exact' query scores 1 under any ranking).",
    ),
    raw_scale: str = typer.Option(
        "linear",
        "--raw-scale",
        help="How raw_mae/raw_rmse (error on the source scale, e.g. Home Depot's 1-3, against raw_score) "
        "predict it: linear (1 + 2*E/3 from the expected grade E) | calibrated (the predictions' "
        "calibrated_score column; an error if it has none). rmse stays on the grade scale.",
    ),
    by: str | None = typer.Option(
        None,
        "--by",
        help="Also break every metric down by these queries-table columns, e.g. kind,band "
        "(band = head/torso/tail derived from frequency when there is no band column).",
    ),
) -> None:
    """Classification and ranking metrics of a prediction file: a table, and JSON with --out.

    The options that define a metric (--gains, --ndcg-queries, --raw-scale) are recorded in the
    row's "options" entry of metrics.json.
    """
    from ecomrel.eval import evaluate, write_metrics

    # checked before any metric is computed: the stage name becomes a file name beside --out
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.@-]*", stage) or ".." in stage:
        raise ConfigError(f"--stage {stage!r}: use letters, digits, '_', '-', '.', '@' (no paths)")
    check_out_path(out, "--out", kind="file")
    names = [m.strip() for m in metrics.split(",") if m.strip()] if metrics else None
    segments = [c.strip() for c in by.split(",") if c.strip()] if by else None
    report = evaluate(
        data,
        pred,
        split=split,
        metrics=names,
        gains=_gains(gains),
        name=stage,
        by=segments,
        ndcg_queries=ndcg_queries,
        raw_scale=raw_scale,
    )
    console.print(report)
    console.print(
        "[dim]options: " + ", ".join(f"{k}={v}" for k, v in report.options.items()) + "[/]",
        highlight=False,
    )
    if out is not None:
        write_metrics(out, {stage: report.row()})
        full = report.save(out.parent / f"{stage}.report.json")
        console.print(f"metrics: {out}  (full report: {full})")
