"""``ecomrel baseline bm25|tfidf``: lexical baselines with grade cuts tuned on a dev split."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import typer
from rich.console import Console

from ecomrel.cli.common import friendly_errors

console = Console()


class Method(StrEnum):
    bm25 = "bm25"
    tfidf = "tfidf"


@friendly_errors
def baseline_command(
    method: Method = typer.Argument(..., help="bm25 (bm25s) or tfidf (scikit-learn cosine)."),
    data: Path = typer.Option(..., "--data", exists=True, file_okay=False, help="Data folder with splits."),
    out: Path = typer.Option(..., "--out", file_okay=False, help="Folder for predictions and thresholds."),
    tune_split: str = typer.Option("dev", "--tune-split", help="Split on which the grade cuts are tuned."),
    eval_split: str = typer.Option(
        "test", "--eval-split", help="Split to report metrics on (skipped if absent)."
    ),
    objective: str = typer.Option("macro_f1", "--objective", help="Cut objective: macro_f1 | accuracy."),
    description: bool = typer.Option(False, "--description", help="Index product descriptions too."),
) -> None:
    """Score every judged pair, tune three grade cuts, write a prediction file and report metrics."""
    from ecomrel.baselines import run_baseline

    res = run_baseline(
        method.value,
        data,
        out,
        tune_split=tune_split,
        eval_split=eval_split,
        objective=objective,
        description=description,
    )
    if res.get("report") is not None:
        console.print(res["report"])
    else:
        console.print(f"[yellow]no split {eval_split!r} in {data}; metrics skipped[/]")
    cuts = ", ".join(f"{c:.4g}" for c in res["cuts"])
    console.print(f"{method.value}: cuts [{cuts}] ({tune_split} {objective} {res['tune_objective']:.4f})")
    console.print(f"predictions: {res['predictions']}\nthresholds:  {res['thresholds']}")
