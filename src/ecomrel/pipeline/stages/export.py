"""Stage ``export``: the distilled student as ONNX fp32 and int8 for CPU serving."""

from __future__ import annotations

from pydantic import Field

from ecomrel.pipeline.registry import StageContext, StageOptions, console, stage
from ecomrel.pipeline.stages.distill import primary_student


class ExportOptions(StageOptions):
    opset: int = Field(17, ge=11, le=21, description="ONNX opset.")


@stage(
    "export",
    options=ExportOptions,
    reads=("distill",),
    summary="Export: the student as ONNX fp32 + int8, with parity against torch",
)
def export_stage(ctx: StageContext) -> dict[str, dict[str, float]]:
    from ecomrel.export.onnx import export_onnx

    exported = export_onnx(primary_student(ctx), ctx.stage_dir / "onnx", opset=ctx.options.opset)
    console.print(
        f"export: {exported['out_dir']} (fp32 {exported['fp32_mb']} MB, int8 {exported['int8_mb']} MB, "
        f"torch parity {exported['max_abs_logit_diff']:.1e})"
    )
    return {
        "export:onnx": {
            "fp32_mb": float(exported["fp32_mb"]),
            "int8_mb": float(exported["int8_mb"]),
            "max_abs_logit_diff": float(exported["max_abs_logit_diff"]),
        }
    }
