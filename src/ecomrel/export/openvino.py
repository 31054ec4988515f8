"""OpenVINO variants of the student: the IR converted from the ONNX export, and NNCF static int8.

``openvino.convert_model`` reads the ONNX fp32 graph (sentence-transformers' own OpenVINO backend
needs optimum-intel, which pins transformers < 4.58); the IR keeps fp32 weights and the precision
is chosen when the model is compiled: ``bf16`` on CPUs with AVX512-BF16/AMX
(:func:`ecomrel.hardware.cpu_bf16`), ``f32`` elsewhere. The int8 variant is
``nncf.quantize`` post-training static quantization (``ModelType.TRANSFORMER``: mixed preset,
SmoothQuant) calibrated on the user's own pairs, one pair per calibration sample.

Folders (inside an export folder, beside ``model.onnx`` and the tokenizer)::

    openvino/model.xml + model.bin          IR, fp32 weights
    openvino_int8/model.xml + model.bin     NNCF int8 (fake-quantize nodes the CPU plugin fuses)
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ecomrel.errors import DataError, MissingDependencyError
from ecomrel.export.onnx import (
    FP32_NAME,
    StudentRuntime,
    StudentTokenizer,
    _softmax,
    input_names_of,
    resolve_onnx_dir,
)
from ecomrel.hardware import cpu_bf16
from ecomrel.student.recipe import StudentRecipe

OV_DIRS = {"fp32": "openvino", "int8": "openvino_int8"}
IR_NAME = "model.xml"


def _ov():
    try:
        import openvino as ov
    except ImportError as exc:
        raise MissingDependencyError(
            "the OpenVINO variants need openvino (pip install 'ecomrel[openvino]')"
        ) from exc
    return ov


def inference_precision(precision: str = "auto") -> str:
    """OpenVINO's CPU ``INFERENCE_PRECISION_HINT``: ``auto`` → ``bf16`` where the CPU has it, else ``f32``."""
    if precision == "auto":
        return "bf16" if cpu_bf16() else "f32"
    if precision not in ("bf16", "f32"):
        raise ValueError(f"precision must be auto, bf16 or f32, got {precision!r}")
    return precision


def export_openvino(folder: str | Path) -> Path:
    """``folder/openvino/model.xml`` from ``folder/model.onnx`` (fp32 weights); returns the IR path."""
    ov = _ov()
    folder = resolve_onnx_dir(folder)
    out = folder / OV_DIRS["fp32"]
    out.mkdir(parents=True, exist_ok=True)
    model = ov.convert_model(str(folder / FP32_NAME))
    ov.save_model(model, str(out / IR_NAME), compress_to_fp16=False)
    return out / IR_NAME


def quantize_openvino(
    folder: str | Path, pairs: Sequence[tuple[str, str]], max_drop: float | None = None
) -> dict[str, Any]:
    """``folder/openvino_int8/model.xml``: NNCF post-training int8 of the IR, calibrated on ``pairs``.

    Every calibration sample is one (query, product text) pair tokenized as served (no padding), so
    the activation ranges are those of real text. With ``max_drop``, ``nncf.quantize_with_accuracy_control``
    instead: the quantized operations that hurt most are reverted to floating point until the
    Spearman correlation of the expected grade with the fp32 IR, on the same calibration pairs (never
    the held-out ones the export measures fidelity on), is within ``max_drop`` of 1.
    """
    ov = _ov()
    try:
        import nncf
    except ImportError as exc:
        raise MissingDependencyError("openvino int8 needs nncf (pip install 'ecomrel[openvino]')") from exc
    folder = resolve_onnx_dir(folder)
    src = folder / OV_DIRS["fp32"] / IR_NAME
    if not src.exists():
        src = export_openvino(folder)
    if not pairs:
        raise DataError(f"{folder}: no calibration pairs for OpenVINO int8")
    recipe = StudentRecipe.load(folder)
    tok = StudentTokenizer(folder, recipe, input_names_of(folder))
    items = [tok([q], [p]) for q, p in pairs]
    core = ov.Core()
    model = core.read_model(str(src))
    logging.getLogger("nncf").setLevel(logging.WARNING)
    info: dict[str, Any] = {}
    with contextlib.redirect_stdout(sys.stderr):  # NNCF's progress bars: keep stdout for results (JSON)
        if max_drop is None:
            qmodel = nncf.quantize(
                model,
                nncf.Dataset(items),
                model_type=nncf.ModelType.TRANSFORMER,
                subset_size=len(items),
            )
        else:
            qmodel = _accuracy_controlled(core, model, items, pairs, tok, max_drop)
            info["accuracy_control"] = {
                "metric": "spearman vs fp32 IR (calibration pairs)",
                "max_drop": max_drop,
            }
    out = folder / OV_DIRS["int8"]
    out.mkdir(parents=True, exist_ok=True)
    ov.save_model(qmodel, str(out / IR_NAME), compress_to_fp16=False)
    method = "nncf.quantize" if max_drop is None else "nncf.quantize_with_accuracy_control"
    return {
        "method": f"{method} (post-training static int8, ModelType.TRANSFORMER, mixed preset)",
        "calibration_pairs": len(items),
        "nncf": nncf.__version__,
        **info,
    }


def _accuracy_controlled(
    core: Any, model: Any, items: list, pairs: Sequence[tuple[str, str]], tok: Any, max_drop: float
):
    """NNCF int8 with accuracy control; the metric is the Spearman of the expected grade vs fp32."""
    import nncf

    from ecomrel.eval.fidelity import variant_fidelity

    batches = [
        tok([q for q, _ in pairs[i : i + 50]], [p for _, p in pairs[i : i + 50]])
        for i in range(0, len(pairs), 50)
    ]
    fp32 = core.compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    ref = np.concatenate([_softmax(np.asarray(fp32(b)[fp32.output(0)], dtype=np.float64)) for b in batches])

    def validate(compiled: Any, data: Any) -> tuple[float, None]:
        got = np.concatenate(
            [_softmax(np.asarray(compiled(b)[compiled.output(0)], dtype=np.float64)) for b in data]
        )
        return float(variant_fidelity(ref, got)["spearman"]), None

    return nncf.quantize_with_accuracy_control(
        model,
        nncf.Dataset(items),
        nncf.Dataset(batches),
        validate,
        max_drop=max_drop,
        drop_type=nncf.DropType.ABSOLUTE,
        model_type=nncf.ModelType.TRANSFORMER,
        subset_size=len(items),
    )


class OpenVinoStudent(StudentRuntime):
    """An OpenVINO IR of the student on the CPU plugin: texts in, grade probabilities out."""

    def __init__(
        self, folder: str | Path, variant: str = "fp32", threads: int = 1, precision: str = "auto"
    ) -> None:
        ov = _ov()
        if variant not in OV_DIRS:
            raise ValueError(f"variant must be one of {sorted(OV_DIRS)}, got {variant!r}")
        self.folder = resolve_onnx_dir(folder)
        path = self.folder / OV_DIRS[variant] / IR_NAME
        if not path.exists():
            raise DataError(f"{path}: not found (run `ecomrel export variants`)")
        self.path = path
        self.variant = variant
        self.recipe = StudentRecipe.load(self.folder)
        self.input_names = input_names_of(self.folder)
        self._tok = StudentTokenizer(self.folder, self.recipe, self.input_names)
        self.precision = inference_precision(precision)
        core = ov.Core()
        config = {
            "INFERENCE_PRECISION_HINT": self.precision,
            "INFERENCE_NUM_THREADS": int(threads),
            "NUM_STREAMS": 1,
            "PERFORMANCE_HINT": "LATENCY",
        }
        self.compiled = core.compile_model(core.read_model(str(path)), "CPU", config)
        hint = self.compiled.get_property("INFERENCE_PRECISION_HINT")
        self.runtime_precision = hint.get_type_name() if hasattr(hint, "get_type_name") else str(hint)
        """What the plugin compiled to: a CPU without bf16 runs f32 even when bf16 was asked for."""
        self.request = self.compiled.create_infer_request()
        self.output = self.compiled.output(0)

    def logits_from_features(self, feats: dict[str, np.ndarray]) -> np.ndarray:
        res = self.request.infer({n: feats[n] for n in self.input_names})
        return np.asarray(res[self.output])
