"""Scoring backends behind one facade, and the tiering of their grade distributions.

Every backend turns (query, product fields) pairs into an (n, K) grade distribution. They are
registered by name, rerankers-style: a backend is listed only when the modules it needs can be
found, so ``available_backends()`` tells a user what this installation can serve:

==========  ==================================================  ===========================
name        model                                               needs
==========  ==================================================  ===========================
onnx-int8   exported student, dynamically quantized (default)   onnxruntime, tokenizers
onnx-fp32   exported student, fp32                              onnxruntime, tokenizers
torch       sentence-transformers CrossEncoder student          torch, sentence_transformers
llm         the LLM judge: ``ecomrel.llm.scorer.score_pairs``   torch, transformers, ecomrel.llm.scorer
==========  ==================================================  ===========================

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


def load_backend(name: str, model: str | Path | None, threads: int = 1, **options: Any) -> Backend:
    """Instantiate a registered backend.

    An unknown name is a ``ConfigError`` naming the known ones; a known backend whose modules are
    not installed is a ``MissingDependencyError`` naming them; a missing model folder a ``DataError``.
    """
    if name not in _KNOWN:
        raise ConfigError(f"--backend {name!r}: unknown backend (known: {', '.join(sorted(_KNOWN))})")
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
        **_: Any,
    ):
        from ecomrel.llm import scorer

        self._score_pairs = scorer.score_pairs
        self.model_dir = Path(model) if Path(str(model)).exists() else model
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
        out = self._score_pairs(self.model, self.tokenizer, df, batch_size=self.batch_size)
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
