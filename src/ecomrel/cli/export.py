"""``ecomrel export ...``: export the student for serving (ONNX fp32 + int8)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from ecomrel.cli.common import friendly_errors

app = typer.Typer(help="Export models for serving.", no_args_is_help=True)


@app.command("onnx")
@friendly_errors
def onnx_command(
    model: Path = typer.Option(..., "--model", "-m", help="Student folder (distill/model or distill/)."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder for model.onnx + model_int8.onnx."),
    opset: int = typer.Option(17, "--opset", help="ONNX opset."),
    quantize: bool = typer.Option(
        True, "--int8/--no-int8", help="Also write the dynamically quantized int8 model."
    ),
    plain: bool = typer.Option(
        False,
        "--plain",
        help="Plain quantize_dynamic: per-tensor weights, no outlier split, int8 embeddings.",
    ),
    outlier_ratio: float = typer.Option(
        3.0, "--outlier-ratio", help="Activation channels above ratio x median max go to an fp32 side path."
    ),
) -> None:
    """Export a cross-encoder student to ONNX fp32 and dynamically quantized int8."""
    from ecomrel.export.onnx import export_onnx

    opts = (
        {"per_channel": False, "outlier_ratio": None, "quantize_embeddings": True}
        if plain
        else {"per_channel": True, "outlier_ratio": outlier_ratio, "quantize_embeddings": False}
    )
    typer.echo(json.dumps(export_onnx(model, out, opset=opset, quantize=quantize, **opts), indent=2))
