"""ONNX export of the cross-encoder student and a light ONNX Runtime predictor.

LREF and Walmart both serve a BERT-size model online; on CPU the cheap win is int8 weights.
``export_onnx`` traces the student's sequence-classification model with the legacy
``torch.onnx.export`` (``dynamo=False``, dynamic batch and sequence axes), then quantizes it with
``onnxruntime.quantization.quantize_dynamic`` (int8 weights, activations quantized on the fly,
no calibration data needed). The folder it writes is self-contained::

    model.onnx          fp32 graph
    model_int8.onnx     dynamically quantized graph
    tokenizer.json ...  the student's tokenizer
    student.json        the text recipe (fields, separator, max_length, grade names)
    onnx.json           manifest: inputs, opset, sizes
    cumpt_thresholds.json   copied when the model folder has one (tiering)

:class:`OnnxStudent` needs only ``onnxruntime``, ``tokenizers`` and numpy: no torch at serving time.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ecomrel.data.schema import DataError
from ecomrel.train.distill_config import STUDENT_META, StudentRecipe

FP32_NAME = "model.onnx"
INT8_NAME = "model_int8.onnx"
MANIFEST = "onnx.json"
THRESHOLD_FILES = ("cumpt_thresholds.json", "thresholds.json")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt")


def resolve_model_dir(path: str | Path) -> Path:
    """A torch student folder: ``path`` itself, or ``path/model`` (a distill output folder)."""
    path = Path(path)
    for cand in (path, path / "model"):
        if (cand / "config.json").exists() and (
            (cand / "model.safetensors").exists() or (cand / "modules.json").exists()
        ):
            return cand
    raise DataError(f"{path}: no student model here (expected config.json + model.safetensors, or model/)")


def resolve_onnx_dir(path: str | Path) -> Path:
    """An exported folder: ``path`` itself, or ``path/onnx`` (a distill output folder)."""
    path = Path(path)
    for cand in (path, path / "onnx"):
        if (cand / FP32_NAME).exists() or (cand / INT8_NAME).exists():
            return cand
    raise DataError(f"{path}: no ONNX student here (run `ecomrel export onnx --model ... --out ...`)")


def export_onnx(
    model_dir: str | Path,
    out_dir: str | Path,
    opset: int = 17,
    quantize: bool = True,
    per_channel: bool = False,
) -> dict[str, Any]:
    """Export a CrossEncoder student folder to ONNX fp32 (+ int8); return paths, sizes and a parity check.

    ``max_abs_logit_diff`` compares torch and ONNX fp32 logits on a small padded batch.
    """
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    t0 = time.perf_counter()
    src = resolve_model_dir(model_dir)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    recipe = StudentRecipe.load(src)
    tok = AutoTokenizer.from_pretrained(str(src))
    model = AutoModelForSequenceClassification.from_pretrained(str(src), attn_implementation="eager")
    model.eval()

    names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in tok.model_input_names]

    class Logits(torch.nn.Module):
        """Positional inputs in, logits out: what the ONNX graph exposes."""

        def __init__(self, m: torch.nn.Module) -> None:
            super().__init__()
            self.m = m

        def forward(self, *args: torch.Tensor) -> torch.Tensor:
            return self.m(**dict(zip(names, args, strict=True))).logits

    # eval() on the wrapper too: export restores the wrapper's mode afterwards, recursively.
    wrapper = Logits(model).eval()
    sample = tok(
        ["red running shoes", "usb c cable"],
        ["nike pegasus running shoe | nike | shoes", "hdmi cable"],
        padding=True,
        truncation=True,
        max_length=recipe.max_length,
        return_tensors="pt",
    )
    fp32 = out / FP32_NAME
    dyn = {n: {0: "batch", 1: "sequence"} for n in names} | {"logits": {0: "batch"}}
    with torch.no_grad():
        torch.onnx.export(
            wrapper,
            tuple(sample[n] for n in names),
            str(fp32),
            input_names=names,
            output_names=["logits"],
            dynamic_axes=dyn,
            opset_version=opset,
            do_constant_folding=True,
            dynamo=False,
        )
        ref = wrapper(*(sample[n] for n in names)).numpy()

    int8 = None
    if quantize:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        int8 = out / INT8_NAME
        quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8, per_channel=per_channel)

    tok.save_pretrained(str(out))
    for f in (STUDENT_META, "config.json", *THRESHOLD_FILES):
        if (src / f).exists():
            shutil.copy2(src / f, out / f)
    if not (out / STUDENT_META).exists():
        recipe.save(out)
    manifest = {
        "fp32": FP32_NAME,
        "int8": INT8_NAME if int8 else None,
        "inputs": names,
        "opset": opset,
        "num_labels": int(model.config.num_labels),
        "max_length": recipe.max_length,
        "per_channel": per_channel,
        "source": str(src),
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2))

    onnx_logits = OnnxStudent(out, variant="fp32").logits_from_features({n: sample[n].numpy() for n in names})
    return {
        "out_dir": str(out),
        "fp32": str(fp32),
        "int8": str(int8) if int8 else None,
        "fp32_mb": round(fp32.stat().st_size / 2**20, 2),
        "int8_mb": round(int8.stat().st_size / 2**20, 2) if int8 else None,
        "max_abs_logit_diff": float(np.abs(onnx_logits - ref).max()),
        "seconds": round(time.perf_counter() - t0, 2),
    }


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(-1, keepdims=True)


class OnnxStudent:
    """An exported student on ONNX Runtime: texts in, grade probabilities out."""

    def __init__(self, folder: str | Path, variant: str = "int8", threads: int = 1) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.folder = resolve_onnx_dir(folder)
        self.variant = variant
        path = self.folder / (INT8_NAME if variant == "int8" else FP32_NAME)
        if variant not in ("int8", "fp32"):
            raise ValueError(f"variant must be 'int8' or 'fp32', got {variant!r}")
        if not path.exists():
            raise DataError(f"{path}: not found (export with quantize=True for int8)")
        self.recipe = StudentRecipe.load(self.folder)
        manifest_path = self.folder / MANIFEST
        manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
        self.input_names: list[str] = manifest.get(
            "inputs", ["input_ids", "attention_mask", "token_type_ids"]
        )
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        self.tokenizer = Tokenizer.from_file(str(self.folder / "tokenizer.json"))
        cfg = (
            json.loads((self.folder / "tokenizer_config.json").read_text())
            if (self.folder / "tokenizer_config.json").exists()
            else {}
        )
        pad_token = cfg.get("pad_token", "[PAD]")
        pad_token = pad_token.get("content", "[PAD]") if isinstance(pad_token, dict) else pad_token
        pad_id = self.tokenizer.token_to_id(pad_token)
        self.tokenizer.enable_truncation(max_length=self.recipe.max_length, strategy="longest_first")
        self.tokenizer.enable_padding(pad_id=0 if pad_id is None else pad_id, pad_token=pad_token)

    @property
    def num_labels(self) -> int:
        return self.recipe.num_labels

    def features(self, queries: Sequence[str], products: Sequence[str]) -> dict[str, np.ndarray]:
        enc = self.tokenizer.encode_batch(list(zip(queries, products, strict=True)))
        cols = {
            "input_ids": [e.ids for e in enc],
            "attention_mask": [e.attention_mask for e in enc],
            "token_type_ids": [e.type_ids for e in enc],
        }
        return {n: np.asarray(cols[n], dtype=np.int64) for n in self.input_names}

    def logits_from_features(self, feats: dict[str, np.ndarray]) -> np.ndarray:
        return self.session.run(["logits"], {n: feats[n].astype(np.int64) for n in self.input_names})[0]

    def predict_proba(
        self, queries: Sequence[str], products: Sequence[str], batch_size: int = 64
    ) -> np.ndarray:
        """(n, K) grade probabilities (softmax of the logits)."""
        if len(queries) == 0:
            return np.zeros((0, self.num_labels), dtype=np.float32)
        parts = []
        for i in range(0, len(queries), batch_size):
            feats = self.features(queries[i : i + batch_size], products[i : i + batch_size])
            parts.append(_softmax(self.logits_from_features(feats).astype(np.float64)))
        return np.concatenate(parts).astype(np.float32)


def compare_variants(
    folder: str | Path, queries: Sequence[str], products: Sequence[str], threads: int = 1
) -> dict[str, float]:
    """int8 vs fp32 on the same pairs: argmax agreement, expected-grade MAE, max probability gap."""
    p32 = OnnxStudent(folder, "fp32", threads).predict_proba(queries, products)
    p8 = OnnxStudent(folder, "int8", threads).predict_proba(queries, products)
    grades = np.arange(p32.shape[1])
    return {
        "n": len(queries),
        "argmax_agreement": float((p32.argmax(1) == p8.argmax(1)).mean()),
        "expected_grade_mae": float(np.abs(p32 @ grades - p8 @ grades).mean()),
        "max_prob_diff": float(np.abs(p32 - p8).max()),
    }
