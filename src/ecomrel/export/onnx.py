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
    decisions.json      copied when the model folder has one (dev-tuned cut points, calibration)

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
from ecomrel.student.recipe import STUDENT_META, StudentRecipe

FP32_NAME = "model.onnx"
INT8_NAME = "model_int8.onnx"
INT8_PLAIN_NAME = "model_int8_plain.onnx"
MANIFEST = "onnx.json"
THRESHOLD_FILES = ("cumpt_thresholds.json", "thresholds.json")
CARRIED_FILES = (*THRESHOLD_FILES, "decisions.json")
"""Files beside the student that the export carries along, so the export folder serves on its own."""
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt")


def resolve_model_dir(path: str | Path) -> Path:
    """A torch student folder: ``path`` itself, ``path/model`` (a ``run_distill`` output folder) or
    ``path/student/model`` (the pipeline's distill stage folder, e.g. ``runs/demo/distill``)."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such folder")
    for cand in (path, path / "model", path / "student" / "model"):
        if (cand / "config.json").exists() and (
            (cand / "model.safetensors").exists() or (cand / "modules.json").exists()
        ):
            return cand
    raise DataError(
        f"{path}: no student model here (expected config.json + model.safetensors, "
        "or a model/ or student/model/ sub-folder)"
    )


def resolve_onnx_dir(path: str | Path) -> Path:
    """An exported folder: ``path`` itself, or ``path/onnx`` (a distill output folder)."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such folder")
    for cand in (path, path / "onnx"):
        if (cand / FP32_NAME).exists() or (cand / INT8_NAME).exists():
            return cand
    raise DataError(f"{path}: no ONNX student here (run `ecomrel export onnx --model ... --out ...`)")


MIN_OPSET = 13  # int8 per-channel weights (QLinear/DynamicQuantize with axis) need opset 13


def check_export_options(opset: int, outlier_ratio: float | None) -> None:
    """``ConfigError`` naming the option for an opset the exporter cannot write or a ratio <= 1."""
    from ecomrel.errors import ConfigError

    try:
        from torch.onnx._constants import ONNX_TORCHSCRIPT_EXPORTER_MAX_OPSET as max_opset
    except ImportError:  # pragma: no cover - older torch
        max_opset = 20
    if not MIN_OPSET <= opset <= max_opset:
        raise ConfigError(f"--opset {opset}: must lie in {MIN_OPSET}..{max_opset} (this exporter and int8)")
    if outlier_ratio is not None and not outlier_ratio > 1.0:
        raise ConfigError(
            f"--outlier-ratio {outlier_ratio:g}: must be > 1 (a channel counts as an outlier when its "
            "activation range exceeds ratio x the median; <= 1 would move every channel to fp32)"
        )


def export_onnx(
    model_dir: str | Path,
    out_dir: str | Path,
    opset: int = 17,
    quantize: bool = True,
    per_channel: bool = True,
    outlier_ratio: float | None = 3.0,
    quantize_embeddings: bool = False,
    calibration: Sequence[tuple[str, str]] | None = None,
) -> dict[str, Any]:
    """Export a CrossEncoder student folder to ONNX fp32 (+ int8); return paths, sizes and a parity check.

    int8 is ``quantize_dynamic`` (int8 weights, activations quantized per call) with three accuracy
    settings, all on by default (see :func:`quantize_student`): per-channel weight scales, outlier
    channels of the activations kept on an fp32 side path, and fp32 word embeddings. ``per_channel=False,
    outlier_ratio=None, quantize_embeddings=True`` is plain ``quantize_dynamic`` (smallest file).
    ``max_abs_logit_diff`` compares torch and ONNX fp32 logits on a small padded batch.
    """
    check_export_options(opset, outlier_ratio if quantize else None)
    src = resolve_model_dir(model_dir)
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    t0 = time.perf_counter()
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

    tok.save_pretrained(str(out))
    for f in (STUDENT_META, "config.json", *CARRIED_FILES):
        if (src / f).exists():
            shutil.copy2(src / f, out / f)
    if not (out / STUDENT_META).exists():
        recipe.save(out)
    manifest: dict[str, Any] = {
        "fp32": FP32_NAME,
        "int8": None,
        "inputs": names,
        "opset": opset,
        "num_labels": int(model.config.num_labels),
        "max_length": recipe.max_length,
        "source": str(src),
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2))

    int8 = None
    if quantize:
        int8 = out / INT8_NAME
        manifest["int8"] = INT8_NAME
        manifest["quantization"] = quantize_student(
            out,
            int8,
            per_channel=per_channel,
            outlier_ratio=outlier_ratio,
            quantize_embeddings=quantize_embeddings,
            calibration=calibration,
        )
        (out / MANIFEST).write_text(json.dumps(manifest, indent=2))

    onnx_logits = OnnxStudent(out, variant="fp32").logits_from_features({n: sample[n].numpy() for n in names})
    return {
        "out_dir": str(out),
        "fp32": str(fp32),
        "int8": str(int8) if int8 else None,
        "fp32_mb": round(fp32.stat().st_size / 2**20, 2),
        "int8_mb": round(int8.stat().st_size / 2**20, 2) if int8 else None,
        "quantization": manifest.get("quantization"),
        "max_abs_logit_diff": float(np.abs(onnx_logits - ref).max()),
        "seconds": round(time.perf_counter() - t0, 2),
    }


# --- int8 -------------------------------------------------------------------------------------------

_CAL_QUERIES = (
    "cordless drill 20v",
    "12 in cast iron skillet",
    "running shoes not nike",
    "cheap air fryer",
    "case for iphone 15",
    "what do i need to clean a cast iron pan",
    "stanly tumbler",
    "grey sofa under $500",
)
_CAL_PRODUCTS = (
    {
        "title": "DEWALT 20V MAX Cordless Drill Driver Kit",
        "brand": "DEWALT",
        "category": "Tools > Power Tools",
        "attributes": {"voltage": "20 v", "power source": "battery"},
        "price": 99.0,
    },
    {
        "title": "Lodge 12 in Pre-Seasoned Cast Iron Skillet",
        "brand": "Lodge",
        "category": "Home > Kitchen > Cookware",
        "attributes": {"size": "12 in", "material": "cast iron"},
        "price": 29.99,
    },
    {
        "title": "Brooks Ghost 15 Running Shoe, Black",
        "brand": "Brooks",
        "category": "Clothing > Shoes",
        "attributes": {"colour": "black", "size": "10"},
        "price": 139.95,
    },
    {
        "title": "Ninja 4 qt Air Fryer, Grey",
        "brand": "Ninja",
        "category": "Home > Kitchen > Small Appliances",
        "attributes": {"capacity": "4 qt"},
        "price": 89.99,
    },
    {
        "title": "OtterBox Symmetry Case for iPhone 15, Clear",
        "brand": "OtterBox",
        "category": "Electronics > Cell Phone Accessories",
        "attributes": {"compatible with": "iPhone 15"},
        "price": 49.95,
    },
    {
        "title": "Chain Mail Scrubber for Cast Iron",
        "brand": "Amazon Basics",
        "category": "Home > Kitchen > Cleaning",
        "price": 9.99,
    },
    {
        "title": "Stanley Quencher H2.0 40 oz Tumbler",
        "brand": "Stanley",
        "category": "Home > Kitchen > Drinkware",
        "attributes": {"capacity": "40 oz", "colour": "rose quartz"},
        "price": 45.0,
    },
    {
        "title": "Mid-Century Modern 3 Seat Sofa, Grey Fabric",
        "brand": "Rivet",
        "category": "Home > Furniture",
        "attributes": {"material": "fabric", "colour": "grey"},
        "price": 649.0,
    },
)


def calibration_pairs(recipe: StudentRecipe) -> list[tuple[str, str]]:
    """Built-in (query, product text) pairs: every query with every product, in the student's recipe."""
    return [(q, recipe.product_text(p)) for q in _CAL_QUERIES for p in _CAL_PRODUCTS]


def _activation_amax(
    folder: Path, pairs: Sequence[tuple[str, str]], tensors: list[str]
) -> dict[str, np.ndarray]:
    """Per-channel max |activation| of ``tensors`` of the fp32 graph over the calibration pairs."""
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper

    model = onnx.load(str(folder / FP32_NAME))
    for t in tensors:
        model.graph.output.append(helper.make_tensor_value_info(t, TensorProto.FLOAT, None))
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # keep the tensors by name
    sess = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    student = OnnxStudent(folder, "fp32")
    amax: dict[str, np.ndarray] = {}
    for i in range(0, len(pairs), 16):
        chunk = pairs[i : i + 16]
        f = student.features([q for q, _ in chunk], [p for _, p in chunk])
        outs = sess.run(tensors, {n: f[n] for n in student.input_names})
        for t, a in zip(tensors, outs, strict=True):
            v = np.abs(a).reshape(-1, a.shape[-1]).max(0)
            amax[t] = np.maximum(amax[t], v) if t in amax else v
    return amax


def split_outlier_channels(model, amax: dict[str, np.ndarray], ratio: float) -> tuple[Any, list[str], int]:
    """LLM.int8()-style decomposition: ``X·W = (X⊙m)·W + X[:, O]·W[O, :]``.

    For every MatMul with a constant weight, the input channels ``O`` whose calibration max is above
    ``ratio`` × the median channel max are zeroed in the main path (mask ``m``) and multiplied in fp32
    on a small side path. Dynamic quantization picks one scale per activation tensor, so a single
    outlier channel (BERT's hidden dimension with values ~30 while the rest stay below ~3) would
    otherwise take most of the int8 range. Returns (model, side-path MatMul names, channels split).
    """
    from onnx import helper, numpy_helper

    inits = {i.name: i for i in model.graph.initializer}
    nodes = list(model.graph.node)
    consumers: dict[str, list[Any]] = {}
    for n in nodes:
        if n.op_type == "MatMul" and len(n.input) == 2 and n.input[1] in inits and n.input[0] in amax:
            consumers.setdefault(n.input[0], []).append(n)
    uses: dict[str, int] = {}
    for n in nodes:
        for i in n.input:
            uses[i] = uses.get(i, 0) + 1
    side, total = [], 0
    for t, users in consumers.items():
        a = amax[t]
        med = max(float(np.median(a)), 1e-6)
        out_ch = np.flatnonzero(a > ratio * med)
        if len(out_ch) == 0:
            continue
        total += len(out_ch)
        keep = np.ones(a.shape[0], np.float32)
        keep[out_ch] = 0.0
        mask = numpy_helper.from_array(keep, f"{t}__inlier_mask")
        idx = numpy_helper.from_array(out_ch.astype(np.int64), f"{t}__outlier_idx")
        model.graph.initializer.extend([mask, idx])
        inl, outl = f"{t}__inliers", f"{t}__outliers"
        first = min(nodes.index(n) for n in users)
        head = [
            helper.make_node("Mul", [t, mask.name], [inl], name=f"{t}__mask"),
            helper.make_node("Gather", [t, idx.name], [outl], name=f"{t}__gather_outliers", axis=-1),
        ]
        for n in users:
            w = numpy_helper.to_array(inits[n.input[1]])
            w_out = numpy_helper.from_array(w[out_ch].astype(np.float32), f"{n.input[1]}__outlier_rows")
            model.graph.initializer.append(w_out)
            if uses[n.input[1]] == 1:  # those rows only ever meet zeros now: drop them from the int8 scale
                w_main = w.copy()
                w_main[out_ch] = 0.0
                inits[n.input[1]].CopyFrom(numpy_helper.from_array(w_main, n.input[1]))
            y = n.output[0]
            n.input[0], n.output[0] = inl, f"{y}__int8_part"
            side_name = f"{n.name}__outliers_fp32"
            tail = [
                helper.make_node("MatMul", [outl, w_out.name], [f"{y}__fp32_part"], name=side_name),
                helper.make_node("Add", [f"{y}__int8_part", f"{y}__fp32_part"], [y], name=f"{n.name}__merge"),
            ]
            pos = nodes.index(n) + 1
            nodes[pos:pos] = tail
            side.append(side_name)
        nodes[first:first] = head
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    return model, side, total


def quantize_student(
    folder: Path,
    int8_path: Path,
    per_channel: bool = True,
    outlier_ratio: float | None = 3.0,
    quantize_embeddings: bool = False,
    calibration: Sequence[tuple[str, str]] | None = None,
) -> dict[str, Any]:
    """Dynamic int8 of ``folder/model.onnx`` with ``onnxruntime.quantization.quantize_dynamic``.

    Why each setting (measured on a distilled MiniLM student, dev pairs, see the project notes):
    per-tensor weight scales and BERT's outlier activation channels are what break argmax agreement
    with fp32; per-channel weights, the outlier side path and fp32 embeddings fix most of it at a small
    cost in speed. Calibration only finds outlier channels (a property of the network), so the built-in
    generic pairs are enough; pass real pairs to be sure.
    """
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    src = folder / FP32_NAME
    exclude: list[str] = []
    split = n_cal = 0
    tmp = None
    if outlier_ratio is not None:
        model = onnx.load(str(src))
        inits = {i.name for i in model.graph.initializer}
        tensors = list(
            dict.fromkeys(
                n.input[0] for n in model.graph.node if n.op_type == "MatMul" and n.input[1] in inits
            )
        )
        pairs = list(calibration) if calibration else calibration_pairs(StudentRecipe.load(folder))
        n_cal = len(pairs)
        amax = _activation_amax(folder, pairs, tensors)
        model, exclude, split = split_outlier_channels(model, amax, outlier_ratio)
        tmp = int8_path.with_name(int8_path.stem + ".split.tmp.onnx")
        onnx.save(model, str(tmp))
        src = tmp
    try:
        quantize_dynamic(
            str(src),
            str(int8_path),
            weight_type=QuantType.QInt8,
            per_channel=per_channel,
            nodes_to_exclude=exclude,
            op_types_to_quantize=None if quantize_embeddings else ["MatMul"],
        )
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
    return {
        "method": "onnxruntime.quantization.quantize_dynamic (int8 weights, per-call uint8 activations)",
        "per_channel": per_channel,
        "outlier_ratio": outlier_ratio,
        "outlier_channels_split": split,
        "fp32_side_paths": len(exclude),
        "quantize_embeddings": quantize_embeddings,
        "calibration_pairs": n_cal,
    }


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(-1, keepdims=True)


class StudentTokenizer:
    """The student's fast tokenizer (``tokenizers``, no transformers): pairs in, int64 feature arrays out.

    Truncation (longest-first to the recipe's ``max_length``) and padding match the transformers
    tokenizer the student was trained with (tests/export/test_onnx.py checks this).
    """

    def __init__(self, folder: str | Path, recipe: StudentRecipe, input_names: Sequence[str]) -> None:
        from tokenizers import Tokenizer

        folder = Path(folder)
        self.input_names = list(input_names)
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        cfg = (
            json.loads((folder / "tokenizer_config.json").read_text())
            if (folder / "tokenizer_config.json").exists()
            else {}
        )
        pad_token = cfg.get("pad_token", "[PAD]")
        pad_token = pad_token.get("content", "[PAD]") if isinstance(pad_token, dict) else pad_token
        pad_id = self.tokenizer.token_to_id(pad_token)
        self.tokenizer.enable_truncation(max_length=recipe.max_length, strategy="longest_first")
        self.tokenizer.enable_padding(pad_id=0 if pad_id is None else pad_id, pad_token=pad_token)

    def __call__(self, queries: Sequence[str], products: Sequence[str]) -> dict[str, np.ndarray]:
        enc = self.tokenizer.encode_batch(list(zip(queries, products, strict=True)))
        cols = {
            "input_ids": [e.ids for e in enc],
            "attention_mask": [e.attention_mask for e in enc],
            "token_type_ids": [e.type_ids for e in enc],
        }
        return {n: np.asarray(cols[n], dtype=np.int64) for n in self.input_names}


def input_names_of(folder: Path) -> list[str]:
    """The graph inputs recorded in the export manifest (BERT's three by default)."""
    manifest_path = folder / MANIFEST
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    return list(manifest.get("inputs", ["input_ids", "attention_mask", "token_type_ids"]))


ONNX_FILES = {"fp32": FP32_NAME, "int8": INT8_NAME, "int8-plain": INT8_PLAIN_NAME}


class StudentRuntime:
    """What every exported student variant shares (ONNX Runtime, OpenVINO, torch): the saved
    recipe's tokenizer in, grade probabilities out. A subclass sets ``recipe`` and ``_tok`` (a
    :class:`StudentTokenizer`) and implements :meth:`logits_from_features`."""

    recipe: StudentRecipe
    _tok: StudentTokenizer

    @property
    def num_labels(self) -> int:
        return self.recipe.num_labels

    def features(self, queries: Sequence[str], products: Sequence[str]) -> dict[str, np.ndarray]:
        return self._tok(queries, products)

    def logits_from_features(self, feats: dict[str, np.ndarray]) -> np.ndarray:
        raise NotImplementedError

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


class OnnxStudent(StudentRuntime):
    """An exported student on ONNX Runtime: texts in, grade probabilities out.

    ``variant``: ``int8`` (the outlier-aware export), ``int8-plain`` (plain ``quantize_dynamic``) or
    ``fp32``.
    """

    def __init__(self, folder: str | Path, variant: str = "int8", threads: int = 1) -> None:
        import onnxruntime as ort

        self.folder = resolve_onnx_dir(folder)
        self.variant = variant
        if variant not in ONNX_FILES:
            raise ValueError(f"variant must be one of {sorted(ONNX_FILES)}, got {variant!r}")
        path = self.folder / ONNX_FILES[variant]
        if not path.exists():
            raise DataError(f"{path}: not found (export with quantize=True for int8)")
        self.path = path
        self.recipe = StudentRecipe.load(self.folder)
        self.input_names: list[str] = input_names_of(self.folder)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        self._tok = StudentTokenizer(self.folder, self.recipe, self.input_names)
        self.tokenizer = self._tok.tokenizer

    def logits_from_features(self, feats: dict[str, np.ndarray]) -> np.ndarray:
        return self.session.run(["logits"], {n: feats[n].astype(np.int64) for n in self.input_names})[0]


def compare_variants(
    folder: str | Path,
    queries: Sequence[str],
    products: Sequence[str],
    threads: int = 1,
    decided_margin: float = 0.05,
) -> dict[str, float]:
    """int8 vs fp32 on the same pairs: argmax agreement, expected-grade MAE, max probability gap.

    A student trained on soft targets puts some pairs on a near-tie between two grades; int8 noise
    flips those first. ``argmax_agreement_decided`` is the agreement on the pairs whose fp32 top-two
    gap is at least ``decided_margin``; ``near_tie_share`` is the share of pairs below it.
    ``n_flips`` counts pairs whose argmax differs, ``n_near_tie`` the pairs below the margin and
    ``max_flip_gap`` the largest fp32 top-two gap among the flipped pairs (0 when none flipped).
    """
    p32 = OnnxStudent(folder, "fp32", threads).predict_proba(queries, products)
    p8 = OnnxStudent(folder, "int8", threads).predict_proba(queries, products)
    grades = np.arange(p32.shape[1])
    top2 = np.sort(p32, 1)[:, -2:]
    decided = (top2[:, 1] - top2[:, 0]) >= decided_margin
    agree = p32.argmax(1) == p8.argmax(1)
    gap = top2[:, 1] - top2[:, 0]
    return {
        "n": len(queries),
        "n_flips": int((~agree).sum()),
        "n_near_tie": int((~decided).sum()),
        "max_flip_gap": float(gap[~agree].max()) if (~agree).any() else 0.0,
        "argmax_agreement": float(agree.mean()),
        "argmax_agreement_decided": float(agree[decided].mean()) if decided.any() else 1.0,
        "near_tie_share": float(1 - decided.mean()),
        "expected_grade_mae": float(np.abs(p32 @ grades - p8 @ grades).mean()),
        "max_prob_diff": float(np.abs(p32 - p8).max()),
    }
