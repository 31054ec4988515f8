"""``ecomrel export ...``: export the student for serving (``onnx``: ONNX fp32 + int8; ``variants``: every
serving variant, each measured against torch fp32, with ``variants.json`` for ``serve --backend auto``)."""

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


@app.command("variants")
@friendly_errors
def variants_command(
    model: Path = typer.Option(
        ...,
        "--model",
        "-m",
        help="Student folder: a distill folder (runs/demo/distill or a run_distill output) or its model/.",
    ),
    out: Path = typer.Option(..., "--out", "-o", help="Export folder (ONNX at the top, variants.json)."),
    data: Path | None = typer.Option(
        None,
        "--data",
        "-d",
        help="Data folder: calibration pairs from split train, held-out from dev (else built-in pairs).",
    ),
    variants: str = typer.Option(
        "all",
        "--variants",
        help="Comma list of torch-fp32 (always measured), onnx-fp32, onnx-int8, onnx-int8-plain, openvino, "
        "openvino-int8, torch-bf16; all = every one whose runtime is installed.",
    ),
    calibration_pairs: int = typer.Option(
        300, "--calibration-pairs", help="Pairs that calibrate int8 (NNCF ranges, ONNX outlier channels)."
    ),
    heldout_pairs: int = typer.Option(500, "--heldout-pairs", help="Held-out pairs for fidelity."),
    batches: str = typer.Option("1,50", "--batches", help="Batch sizes to time (comma list)."),
    rounds: int = typer.Option(3, "--rounds", help="Interleaved timing rounds (the median is kept)."),
    seconds: float = typer.Option(1.0, "--seconds", help="Timed seconds per variant, batch and round."),
    threads: int = typer.Option(1, "--threads", help="Inference threads while measuring."),
    opset: int = typer.Option(17, "--opset", help="ONNX opset (13..20)."),
    openvino_max_drop: float | None = typer.Option(
        None,
        "--openvino-max-drop",
        help="openvino-int8 with NNCF accuracy control: revert the worst int8 ops to float until the "
        "Spearman vs fp32 (on calibration pairs) is within this of 1 (slower export).",
    ),
) -> None:
    """Every serving variant (ONNX fp32/int8, OpenVINO, NNCF int8, torch bf16), measured: variants.json."""
    from ecomrel.errors import ConfigError
    from ecomrel.export.onnx import check_export_options, resolve_model_dir
    from ecomrel.export.variants import VariantOptions, check_variants, export_variants, variant_rows

    names = check_variants(variants.split(","))
    try:
        sizes = [int(b) for b in batches.split(",") if b.strip()]
    except ValueError:
        raise ConfigError(f"--batches {batches!r}: a comma list of integers, e.g. 1,50") from None
    check_export_options(opset, 3.0)
    resolve_model_dir(model)
    log_into(out)
    opts = VariantOptions(
        variants=names,
        data_dir=data,
        calibration_pairs=calibration_pairs,
        heldout_pairs=heldout_pairs,
        batches=sizes,
        rounds=rounds,
        seconds=seconds,
        threads=threads,
        opset=opset,
        openvino_max_drop=openvino_max_drop,
    )
    manifest = export_variants(model, out, opts)
    table = variant_rows(manifest)
    typer.echo(
        json.dumps({"out_dir": str(out), "manifest": str(out / "variants.json"), "variants": table}, indent=2)
    )
