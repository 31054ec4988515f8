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
    per_channel: bool = typer.Option(False, "--per-channel", help="Per-channel int8 weight scales."),
) -> None:
    """Export a cross-encoder student to ONNX fp32 and dynamically quantized int8."""
    from ecomrel.export.onnx import export_onnx

    typer.echo(
        json.dumps(export_onnx(model, out, opset=opset, quantize=quantize, per_channel=per_channel), indent=2)
    )
