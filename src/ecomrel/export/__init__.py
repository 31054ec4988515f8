"""Export the student for CPU serving: ONNX fp32 and int8 (ONNX Runtime), OpenVINO IR and NNCF int8,
torch bf16 — each measured against torch fp32 (:mod:`ecomrel.export.variants`)."""

from ecomrel.export.onnx import OnnxStudent, compare_variants, export_onnx, resolve_onnx_dir

__all__ = ["OnnxStudent", "compare_variants", "export_onnx", "resolve_onnx_dir"]
