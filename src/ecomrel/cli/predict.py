"""``ecomrel predict`` (score a data folder with any model) and ``ecomrel calibrate`` (its decisions)."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path

import typer
from rich.console import Console

from ecomrel.cli.common import check_out_path, friendly_errors

console = Console(highlight=False)


class DecisionsMode(StrEnum):
    auto = "auto"
    refit = "refit"
    none = "none"


@friendly_errors
def predict_command(
    model: Path = typer.Option(
        ...,
        "--model",
        help="A student folder, an ONNX export, a judge adapter (or causal-LM folder), or a baseline's "
        "<method>_thresholds.json (or its folder); the kind is read from the files.",
    ),
    data: Path = typer.Option(..., "--data", help="Data folder to score (its judged pairs)."),
    out: Path = typer.Option(
        ..., "--out", help="Prediction file to write (Parquet; `ecomrel eval` reads it)."
    ),
    split: str | None = typer.Option(None, "--split", help="Score only this split (default: every pair)."),
    decisions: DecisionsMode = typer.Option(
        DecisionsMode.auto,
        "--decisions",
        help="auto: use decisions.json beside the model, else fit it on --tune-split and save it; "
        "refit: always fit; none: the model's own argmax grades.",
    ),
    tune_split: str = typer.Option("dev", "--tune-split", help="Split the decisions are fitted on."),
    variant: str | None = typer.Option(None, "--variant", help="ONNX: int8 (default when present) or fp32."),
    base: str | None = typer.Option(
        None, "--base", help="Judge: base model under the adapter (default: recorded)."
    ),
    template: str | None = typer.Option(
        None, "--template", help="Judge: the prompt template it was trained with."
    ),
    batch_size: int = typer.Option(64, "--batch-size", min=1, help="Pairs per forward pass."),
    threads: int = typer.Option(1, "--threads", min=1, help="CPU threads (ONNX Runtime / judge)."),
) -> None:
    """Score a data folder with any ecomrel model and write the prediction file `ecomrel eval` reads."""
    from ecomrel.predict import run_predict

    check_out_path(out, "--out", kind="file")
    info = run_predict(
        model,
        data,
        out,
        split,
        decisions=decisions.value,
        tune_split=tune_split,
        variant=variant,
        base=base,
        template=template,
        batch_size=batch_size,
        threads=threads,
    )
    how = "fitted now on " + tune_split if info["decisions_fitted"] else "loaded"
    dec = f"decisions {info['decisions']} ({how})" if info["decisions"] else info.get("note", "argmax grades")
    console.print(
        f"predict: {info['kind']} {info['model']} → {info['predictions']} ({info['n_pairs']:,} pairs, "
        f"{info['seconds']:.1f} s)",
        markup=False,
    )
    console.print(dec, markup=False)


@friendly_errors
def calibrate_command(
    model: Path = typer.Option(..., "--model", help="Any model `ecomrel predict` takes."),
    data: Path = typer.Option(..., "--data", help="Data folder holding the split to fit on."),
    split: str = typer.Option("dev", "--split", help="Split whose judged pairs the decisions are fitted on."),
    out: Path | None = typer.Option(
        None, "--out", help="Also write the decisions JSON here (default: only beside the model)."
    ),
    variant: str | None = typer.Option(None, "--variant", help="ONNX: int8 (default when present) or fp32."),
    base: str | None = typer.Option(None, "--base", help="Judge: base model under the adapter."),
    template: str | None = typer.Option(None, "--template", help="Judge: its prompt template."),
    threads: int = typer.Option(1, "--threads", min=1, help="CPU threads."),
) -> None:
    """Fit grade cut points (macro-F1 on the expected grade) and the isotonic map to the source scale;
    save them as decisions.json beside the model, where predict and serve read them."""
    from ecomrel.predict import calibrate

    info = calibrate(
        model, data, split, out=out, variant=variant, base=base, template=template, threads=threads
    )
    console.print(
        json.dumps(
            {
                k: info.get(k)
                for k in (
                    "kind",
                    "model",
                    "decisions",
                    "cuts",
                    "objective",
                    "objective_value",
                    "argmax_objective_value",
                    "calibrated",
                    "calibration_pairs",
                    "n_pairs",
                )
            },
            indent=1,
        ),
        markup=False,
    )
