"""Stage ``export``: the distilled student's serving variants, each measured against torch fp32.

Runs :func:`ecomrel.export.variants.export_variants` (what ``ecomrel export variants`` does) on the
primary student into ``export/onnx/``: ONNX fp32 always, plus the configured ``variants`` (ONNX int8
by default; ``all`` = every one whose runtime is installed), int8 calibrated on the run's own
train pairs, fidelity and speed measured on its dev pairs, and ``variants.json`` for
``serve --backend auto``. The student's ``decisions.json`` and tier thresholds travel along, so
the folder serves on its own.
"""

from __future__ import annotations

from pydantic import Field, PositiveInt, field_validator

from ecomrel.pipeline.registry import StageContext, StageOptions, console, stage
from ecomrel.pipeline.stages.distill import primary_student


class ExportOptions(StageOptions):
    opset: int = Field(17, ge=11, le=21, description="ONNX opset.")
    variants: list[str] = Field(
        ["onnx-int8"],
        description="Serving variants to build and measure besides torch fp32 (the reference) and ONNX "
        "fp32: onnx-int8, onnx-int8-plain, openvino, openvino-int8, torch-bf16, or all (every one "
        "whose runtime is installed).",
    )
    calibration_pairs: int = Field(300, ge=1, description="Train pairs that calibrate int8.")
    heldout_pairs: int = Field(300, ge=1, description="Dev pairs for fidelity and speed.")
    batches: list[PositiveInt] = Field([1, 50], min_length=1, description="Batch sizes timed.")
    rounds: int = Field(3, ge=1, description="Interleaved timing rounds (median kept).")
    seconds: float = Field(0.5, gt=0, description="Timed seconds per variant, batch size and round.")
    threads: int = Field(1, ge=1, description="Inference threads while timing.")

    @field_validator("variants")
    @classmethod
    def _known(cls, v: list[str]) -> list[str]:
        from ecomrel.export.variants import ALL_VARIANTS

        unknown = [n for n in v if n not in (*ALL_VARIANTS, "all")]
        if unknown:
            raise ValueError(
                f"unknown variant(s) {', '.join(unknown)}; known: all, {', '.join(ALL_VARIANTS)}"
            )
        return v


@stage(
    "export",
    options=ExportOptions,
    reads=("data", "distill"),
    summary="Export: the student's serving variants (ONNX fp32 + int8, ...), fidelity and speed vs torch",
)
def export_stage(ctx: StageContext) -> dict[str, dict[str, float]]:
    from ecomrel.export.variants import VariantOptions, check_variants, export_variants, variant_rows

    opts: ExportOptions = ctx.options
    manifest = export_variants(
        primary_student(ctx),
        ctx.stage_dir / "onnx",
        VariantOptions(  # every other option has VariantOptions' own name
            variants=check_variants(["onnx-fp32", *opts.variants]),
            data_dir=ctx.data_dir,
            seed=ctx.seed,
            **opts.model_dump(exclude={"variants"}),
        ),
    )
    rows = variant_rows(manifest)
    for name, row in rows.items():
        speed = ", ".join(
            f"{k.removesuffix('_vs_torch')} {v}x" for k, v in row.items() if k.endswith("_vs_torch")
        )
        console.print(
            f"export: {name}: {row['size_mb']} MB, Spearman {row['spearman']}, decided agreement "
            f"{row['decided_agreement']:.2%}, {speed} torch fp32"
        )
    return {f"export:{n}": {k: v for k, v in r.items() if k != "precision"} for n, r in rows.items()}
