"""Scoring backends behind one facade, and the tiering of their grade distributions.

Every backend turns (query, product fields) pairs into an (n, K) grade distribution. They are
registered by name, rerankers-style: a backend is listed only when the modules it needs can be
found, so ``available_backends()`` tells a user what this installation can serve:

===============  ==============================================  ===============================
name             model                                           needs
===============  ==============================================  ===============================
auto (default)   the fastest variant in ``variants.json`` that   (the chosen variant's)
                 passes the fidelity bars; else onnx-int8
onnx-int8        exported student, dynamic int8 (outlier split)  onnxruntime, tokenizers
onnx-int8-plain  exported student, plain quantize_dynamic int8   onnxruntime, tokenizers
onnx-fp32        exported student, fp32                          onnxruntime, tokenizers
openvino         OpenVINO IR, bf16 on AVX512-BF16/AMX, else f32  openvino, tokenizers
openvino-int8    OpenVINO NNCF static int8                       openvino, tokenizers
torch-bf16       the student's bfloat16 weights (PyTorch)        torch, transformers, tokenizers
torch            sentence-transformers CrossEncoder student      torch, sentence_transformers
llm              the LLM judge: ``ecomrel.llm.scorer``           torch, transformers, ecomrel.llm
===============  ==============================================  ===============================

``auto`` reads ``variants.json`` (written by ``ecomrel export variants``, which measures every variant
on this machine) and picks with :func:`ecomrel.export.variants.choose_variant`: the fastest at the
measured batch size nearest the service's ``max_batch`` whose Spearman (expected grade vs torch
fp32) and decided-pair agreement pass ``auto_min_spearman`` / ``auto_min_decided_agreement``. What it
chose and why is logged (logger ``ecomrel.serve``) and kept on the backend as ``choice``.

Tiers come from CumPT (TaoSR1): thresholds JSON beside the model (``cumpt_thresholds.json``)
read by :mod:`ecomrel.llm.cumpt`. Without that file (or module) the fallback is CumPT's default
rule: ``Good`` if P(grade ≥ 2) ≥ 0.5, else ``Mid`` if P(grade ≥ 1) ≥ 0.5, else ``Bad``.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ecomrel.errors import ConfigError, DataError, MissingDependencyError
from ecomrel.grades import DEFAULT_SCALE

THRESHOLD_FILES = ("cumpt_thresholds.json", "thresholds.json")
FALLBACK_TIERS: tuple[tuple[str, int, float], ...] = (("Good", 2, 0.5), ("Mid", 1, 0.5), ("Bad", 0, 0.0))


class Backend:
    """The facade: ``predict_proba(queries, products) -> (n, K)`` grade probabilities."""

    name: str = "base"
    grade_names: list[str] = list(DEFAULT_SCALE.names)
    choice: dict[str, Any] | None = None
    """Set by ``--backend auto``: the variant chosen, the reason, and why the others were not."""

    def predict_proba(self, queries: Sequence[str], products: Sequence[dict[str, Any]]) -> np.ndarray:
        raise NotImplementedError

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources (sessions, models)."""


@dataclass(frozen=True)
class BackendSpec:
    name: str
    requires: tuple[str, ...]
    factory: Callable[..., Backend]
    description: str


_REGISTRY: dict[str, BackendSpec] = {}
_KNOWN: dict[str, tuple[str, ...]] = {}  # every backend name, installed or not → the modules it needs


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def register(name: str, requires: Sequence[str], description: str) -> Callable[[Callable[..., Backend]], Any]:
    """Register a backend factory under ``name`` if every module in ``requires`` can be found."""

    def deco(factory: Callable[..., Backend]) -> Callable[..., Backend]:
        _KNOWN[name] = tuple(requires)
        if all(_importable(m) for m in requires):
            _REGISTRY[name] = BackendSpec(name, tuple(requires), factory, description)
        return factory

    return deco


def available_backends() -> dict[str, str]:
    """Name → description of every backend this installation can run."""
    return {n: s.description for n, s in _REGISTRY.items()}


AUTO = "auto"


def load_backend(name: str, model: str | Path | None, threads: int = 1, **options: Any) -> Backend:
    """Instantiate a registered backend.

    An unknown name is a ``ConfigError`` naming the known ones; a known backend whose modules are
    not installed is a ``MissingDependencyError`` naming them; a missing model folder a ``DataError``.
    """
    if name == AUTO:
        return load_auto(model, threads=threads, **options)
    if name not in _KNOWN:
        known = ", ".join([AUTO, *sorted(_KNOWN)])
        raise ConfigError(f"--backend {name!r}: unknown backend (known: {known})")
    if name not in _REGISTRY:
        missing = [m for m in _KNOWN[name] if not _importable(m)]
        raise MissingDependencyError(
            f"--backend {name}: needs {', '.join(missing)}, which is not installed "
            f"(pip install 'ecomrel[serve]' or 'ecomrel[train]')"
        )
    if model is None:
        raise ConfigError(f"--backend {name} needs --model <dir>")
    if not Path(str(model)).exists() and name != "llm":  # llm also takes a built-in name
        raise DataError(f"--model {model}: no such folder")
    return _REGISTRY[name].factory(model, threads=threads, **options)


# --- student backends ------------------------------------------------------------------------------


class OnnxBackend(Backend):
    def __init__(self, model: str | Path, variant: str, threads: int = 1, batch_size: int = 64, **_: Any):
        from ecomrel.export.onnx import OnnxStudent

        self.student = OnnxStudent(model, variant=variant, threads=threads)
        self.name = f"onnx-{variant}"
        self.model_dir = self.student.folder
        self.grade_names = list(self.student.recipe.grade_names)
        self.batch_size = batch_size

    def predict_proba(self, queries: Sequence[str], products: Sequence[dict[str, Any]]) -> np.ndarray:
        texts = [self.student.recipe.product_text(p) for p in products]
        return self.student.predict_proba(list(queries), texts, batch_size=self.batch_size)


@register(
    "onnx-int8", ["onnxruntime", "tokenizers"], "exported student, int8 dynamic quantization (ONNX Runtime)"
)
def _onnx_int8(model: str | Path, threads: int = 1, **kw: Any) -> Backend:
    return OnnxBackend(model, "int8", threads=threads, **kw)


@register("onnx-fp32", ["onnxruntime", "tokenizers"], "exported student, fp32 (ONNX Runtime)")
def _onnx_fp32(model: str | Path, threads: int = 1, **kw: Any) -> Backend:
    return OnnxBackend(model, "fp32", threads=threads, **kw)


@register("torch", ["torch", "sentence_transformers"], "sentence-transformers CrossEncoder student (PyTorch)")
class TorchBackend(Backend):
    def __init__(self, model: str | Path, threads: int = 1, batch_size: int = 64, **_: Any):
        import torch
        from sentence_transformers.cross_encoder import CrossEncoder

        from ecomrel.export.onnx import resolve_model_dir
        from ecomrel.student.recipe import StudentRecipe

        torch.set_num_threads(threads)
        self.model_dir = resolve_model_dir(model)
        self.recipe = StudentRecipe.load(self.model_dir)
        self.model = CrossEncoder(
            str(self.model_dir), device="cpu", local_files_only=True, max_length=self.recipe.max_length
        )
        self.name = "torch"
        self.grade_names = list(self.recipe.grade_names)
        self.batch_size = batch_size

    def predict_proba(self, queries: Sequence[str], products: Sequence[dict[str, Any]]) -> np.ndarray:
        from ecomrel.student.predict import predict_proba

        texts = [self.recipe.product_text(p) for p in products]
        return predict_proba(self.model, list(queries), texts, batch_size=self.batch_size)


class VariantBackend(Backend):
    """Any variant of ``ecomrel export variants`` (OpenVINO, NNCF int8, plain int8, torch bf16)."""

    def __init__(self, model: str | Path, variant: str, threads: int = 1, batch_size: int = 64, **_: Any):
        from ecomrel.export.onnx import resolve_onnx_dir
        from ecomrel.export.variants import load_variant

        self.model_dir = resolve_onnx_dir(model)
        self.student = load_variant(self.model_dir, variant, threads=threads)
        self.name = variant
        self.recipe = self.student.recipe
        self.grade_names = list(self.recipe.grade_names)
        self.batch_size = batch_size

    def predict_proba(self, queries: Sequence[str], products: Sequence[dict[str, Any]]) -> np.ndarray:
        texts = [self.recipe.product_text(p) for p in products]
        return self.student.predict_proba(list(queries), texts, batch_size=self.batch_size)


@register(
    "onnx-int8-plain",
    ["onnxruntime", "tokenizers"],
    "exported student, plain quantize_dynamic int8 (ONNX Runtime)",
)
def _onnx_int8_plain(model: str | Path, threads: int = 1, **kw: Any) -> Backend:
    return VariantBackend(model, "onnx-int8-plain", threads=threads, **kw)


@register("openvino", ["openvino", "tokenizers"], "exported student, OpenVINO (bf16 where the CPU has it)")
def _openvino(model: str | Path, threads: int = 1, **kw: Any) -> Backend:
    return VariantBackend(model, "openvino", threads=threads, **kw)


@register("openvino-int8", ["openvino", "tokenizers"], "exported student, OpenVINO NNCF static int8")
def _openvino_int8(model: str | Path, threads: int = 1, **kw: Any) -> Backend:
    return VariantBackend(model, "openvino-int8", threads=threads, **kw)


@register(
    "torch-bf16", ["torch", "transformers", "tokenizers"], "exported student, bfloat16 weights (PyTorch)"
)
def _torch_bf16(model: str | Path, threads: int = 1, **kw: Any) -> Backend:
    return VariantBackend(model, "torch-bf16", threads=threads, **kw)


# --- auto: the fastest variant that passes the fidelity bars -----------------------------------------

VARIANT_BACKEND = {"torch-fp32": "torch"}
"""Variant name (``variants.json``) → backend name, where they differ."""


def load_auto(
    model: str | Path | None,
    threads: int = 1,
    max_batch: int = 64,
    auto_batch: int | None = None,
    auto_min_spearman: float = 0.995,
    auto_min_decided_agreement: float = 1.0,
    **options: Any,
) -> Backend:
    """``--backend auto``: the choice of :func:`ecomrel.export.variants.choose_variant`, loaded and logged.

    Without ``variants.json`` (an older ``ecomrel export onnx`` folder, a distill folder) it serves
    ``onnx-int8`` as before, else ``onnx-fp32``, else ``torch``, and logs that nothing was measured.
    """
    import logging

    from ecomrel.export.onnx import INT8_NAME, resolve_onnx_dir
    from ecomrel.export.variants import choose_variant, read_manifest

    log = logging.getLogger("ecomrel.serve")
    if model is None:
        raise ConfigError("--backend auto needs --model <dir>")
    if not Path(str(model)).exists():
        raise DataError(f"--model {model}: no such folder")
    try:
        folder = resolve_onnx_dir(model)
    except DataError:
        folder = None
    manifest = read_manifest(folder) if folder is not None else {}
    batch = auto_batch or max_batch
    if not manifest:
        name = "torch" if folder is None else ("onnx-int8" if (folder / INT8_NAME).exists() else "onnx-fp32")
        reason = f"no variants.json in {folder or model} (run `ecomrel export variants`): {name}, unmeasured"
        log.warning("auto: %s", reason)
        be = load_backend(name, model, threads=threads, max_batch=max_batch, **options)
        be.choice = {"backend": name, "reason": reason, "measured": False}
        return be

    def available(variant: str) -> bool:
        return VARIANT_BACKEND.get(variant, variant) in _REGISTRY

    choice = choose_variant(
        manifest,
        batch,
        min_spearman=auto_min_spearman,
        min_decided=auto_min_decided_agreement,
        available=available,
    )
    for line in choice.log_lines():
        log.info("%s", line)
    name = VARIANT_BACKEND.get(choice.name, choice.name)
    target = manifest.get("source") if name == "torch" else folder
    be = load_backend(name, target, threads=threads, max_batch=max_batch, **options)
    be.choice = {
        "backend": name,
        "variant": choice.name,
        "batch": choice.batch,
        "reason": choice.reason,
        "rejected": choice.rejected,
        "warnings": choice.warnings,
        "measured": True,
    }
    return be


# --- the LLM judge ---------------------------------------------------------------------------------


@register(
    "llm", ["torch", "transformers", "ecomrel.llm.scorer"], "the LLM judge's grade-token probabilities (slow)"
)
class LLMBackend(Backend):
    """The judge itself, label-first: one prefill per pair, grade-token probabilities renormalised."""

    def __init__(
        self,
        model: str | Path,
        threads: int = 1,
        llm_batch_size: int = 8,
        adapter: str | Path | None = None,
        template: str | None = None,
        **_: Any,
    ):
        from ecomrel.llm import scorer

        self._score_pairs = scorer.score_pairs
        self.template = template
        # tiers (cumpt_thresholds.json) and decisions.json are looked up beside the trained judge
        self.model_dir = Path(adapter) if adapter else (Path(model) if Path(str(model)).exists() else model)
        try:
            from ecomrel.llm.models import load_model
        except ImportError:  # pragma: no cover - the loader ships with the scorer
            load_model = None
        if load_model is not None:
            self.model, self.tokenizer = load_model(str(model), adapter=adapter, threads=threads)
        else:  # pragma: no cover
            from transformers import AutoModelForCausalLM, AutoTokenizer

            self.tokenizer = AutoTokenizer.from_pretrained(str(model), local_files_only=True)
            self.model = AutoModelForCausalLM.from_pretrained(str(model), local_files_only=True).eval()
        self.name = "llm"
        self.batch_size = llm_batch_size

    def predict_proba(self, queries: Sequence[str], products: Sequence[dict[str, Any]]) -> np.ndarray:
        import pandas as pd

        rows = [{**p, "query": q} for q, p in zip(queries, products, strict=True)]
        df = pd.DataFrame(rows)
        if "product_id" not in df.columns or df["product_id"].isna().any():
            df["product_id"] = [p.get("product_id") or f"item{i}" for i, p in enumerate(products)]
        df["query_id"] = [f"q{i}" for i in range(len(df))]
        out = self._score_pairs(
            self.model, self.tokenizer, df, batch_size=self.batch_size, template=self.template
        )
        cols = [f"p_{k}" for k in range(len(self.grade_names))]
        return np.asarray(out[cols].to_numpy(dtype=np.float64), dtype=np.float32)


# --- tiers -----------------------------------------------------------------------------------------


class Tiering:
    """Probabilities → tier names, by CumPT thresholds beside the model, or the documented fallback."""

    def __init__(self, assign: Callable[[np.ndarray], Sequence[str]], source: str) -> None:
        self._assign = assign
        self.source = source

    def __call__(self, probs: np.ndarray) -> list[str]:
        return [str(t) for t in self._assign(np.asarray(probs, dtype=np.float64))]

    @classmethod
    def fallback(cls) -> Tiering:
        def assign(probs: np.ndarray) -> list[str]:
            cum = np.flip(np.cumsum(np.flip(probs, 1), 1), 1)  # cum[:, k] = P(grade >= k)
            out = []
            for row in cum:
                for name, k, thr in FALLBACK_TIERS:
                    if k < row.shape[0] and row[k] >= thr - 1e-12:
                        out.append(name)
                        break
            return out

        return cls(assign, "fallback: Good if P(g>=2)>=0.5, Mid if P(g>=1)>=0.5, else Bad")

    @classmethod
    def for_model(cls, folder: str | Path | None) -> Tiering:
        """CumPT from ``cumpt_thresholds.json`` in ``folder`` (or its parent), else the fallback."""
        if folder is None:
            return cls.fallback()
        folder = Path(folder)
        cands = [d / f for d in (folder, folder.parent) for f in THRESHOLD_FILES]
        path = next((c for c in cands if c.is_file()), None)
        if path is None:
            return cls.fallback()
        try:
            from ecomrel.llm.cumpt import CumPT
        except ImportError:
            return cls._from_plain_json(path)
        try:
            cumpt = CumPT.load(path)
        except (ValueError, KeyError, json.JSONDecodeError) as exc:
            raise DataError(f"{path}: unreadable CumPT thresholds ({exc})") from None
        return cls(cumpt.assign, f"CumPT {path}")

    @classmethod
    def _from_plain_json(cls, path: Path) -> Tiering:  # pragma: no cover - cumpt ships with ecomrel
        data = json.loads(path.read_text())
        tiers = [
            (t["name"], int(t["min_grade"]), float(data["thresholds"].get(t["name"], 0.0)))
            for t in data["tiers"]
        ]

        def assign(probs: np.ndarray) -> list[str]:
            cum = np.flip(np.cumsum(np.flip(probs, 1), 1), 1)
            return [next((n for n, k, thr in tiers if r[k] >= thr - 1e-12), tiers[-1][0]) for r in cum]

        return cls(assign, f"thresholds {path}")
