"""``ecomrel export ...``: export the student for serving (ONNX fp32 + int8)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from ecomrel.cli.common import friendly_errors, log_into

app = typer.Typer(help="Export models for serving.", no_args_is_help=True)


@app.command("onnx")
@friendly_errors
def onnx_command(
    model: Path = typer.Option(
        ...,
        "--model",
        "-m",
        help="Student folder: a distill folder (runs/demo/distill or a run_distill output) or its model/.",
    ),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder for model.onnx + model_int8.onnx."),
    opset: int = typer.Option(17, "--opset", help="ONNX opset (13..20)."),
    quantize: bool = typer.Option(
        True, "--int8/--no-int8", help="Also write the dynamically quantized int8 model."
    ),
    plain: bool = typer.Option(
        False,
        "--plain",
        help="Plain quantize_dynamic: per-tensor weights, no outlier split, int8 embeddings.",
    ),
    outlier_ratio: float = typer.Option(
        3.0,
        "--outlier-ratio",
        help="Activation channels above ratio x median max go to an fp32 side path (> 1).",
    ),
) -> None:
    """Export a cross-encoder student to ONNX fp32 and dynamically quantized int8."""
    from ecomrel.export.onnx import check_export_options, export_onnx, resolve_model_dir

    opts = (
        {"per_channel": False, "outlier_ratio": None, "quantize_embeddings": True}
        if plain
        else {"per_channel": True, "outlier_ratio": outlier_ratio, "quantize_embeddings": False}
    )
    check_export_options(opset, opts["outlier_ratio"] if quantize else None)  # before any file is written
    resolve_model_dir(model)
    log_into(out)  # TracerWarnings and ONNX Runtime's quantization advice go to <out>/ecomrel.log
    typer.echo(json.dumps(export_onnx(model, out, opset=opset, quantize=quantize, **opts), indent=2))
