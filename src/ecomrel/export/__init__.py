"""Export the student for CPU serving: ONNX fp32 and dynamically quantized int8 (ONNX Runtime)."""

from ecomrel.export.onnx import OnnxStudent, compare_variants, export_onnx, resolve_onnx_dir

__all__ = ["OnnxStudent", "compare_variants", "export_onnx", "resolve_onnx_dir"]
