"""LREF's Multi-CoT curriculum (§1.4): which SFT phases run, in which order, on which chains.

- ``sequential``: EE → RA → DR, one SFT phase each, each phase starting from the previous adapter.
  The DR phase's chains come from the **previous phase's mistakes**: the model of that phase scores
  the training pairs (``ecomrel.llm.scorer.score_pairs``), the pairs it gets wrong become DR chains
  (``ecomrel.reason.chains.build_chains(..., kinds=("dr",), predictions=...)``) whose prompt carries
  the wrong decision and whose target is the corrected, label-first reasoning.
- ``mixed``: every kind shuffled into one phase; DR chains come from the start model's mistakes.
- ``label_only``: one phase whose target is the grade alone (the ablation baseline).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ecomrel.train.sft_config import SFTRunConfig

log = logging.getLogger(__name__)

STATIC_KINDS = ("ee", "ra", "rag")
"""Kinds whose chains depend only on the pair and the gold grade (built once, up front)."""


@dataclass(frozen=True)
class Phase:
    """One SFT phase: its folder name and the chain kinds it trains on."""

    name: str
    kinds: tuple[str, ...]
    label_only: bool = False
    from_examples: bool = False

    @property
    def needs_mistakes(self) -> bool:
        """DR chains need the current model's predictions on the training pairs."""
        return "dr" in self.kinds


def plan_phases(config: SFTRunConfig) -> list[Phase]:
    """The phases a config asks for, in training order."""
    if config.examples is not None:
        return [Phase("examples", ("custom",), from_examples=True)]
    if config.curriculum == "label_only":
        return [Phase("label_only", ("label",), label_only=True)]
    if config.curriculum == "mixed":
        return [Phase("mixed", tuple(config.phases))]
    return [Phase(f"{i + 1}_{kind}", (kind,)) for i, kind in enumerate(config.phases)]


def chain_builder_config(config: SFTRunConfig, **changes: Any):
    """The chain builder's own config: ``config.chain_config`` (or defaults) with ``changes`` applied."""
    from ecomrel.reason.chains_config import ChainConfig

    base = ChainConfig.from_yaml(config.chain_config) if config.chain_config else ChainConfig()
    if config.rules is not None:
        changes.setdefault("rules", config.rules)
    return base.model_copy(update=changes)


def _call_build_chains(
    pairs: pd.DataFrame, kinds: tuple[str, ...], **kwargs: Any
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """``ecomrel.reason.chains.build_chains`` on a pairs frame (None-valued keywords left out)."""
    from ecomrel.reason.chains import build_chains

    return build_chains(pairs, kinds=kinds, **{k: v for k, v in kwargs.items() if v is not None})


def restrict_to_pairs(chains: pd.DataFrame, pairs: pd.DataFrame) -> pd.DataFrame:
    """Keep chains of pairs in the training set only (no chain from another split leaks in)."""
    keys = pd.MultiIndex.from_frame(pairs[["query_id", "product_id"]].astype(str))
    ck = pd.MultiIndex.from_frame(chains[["query_id", "product_id"]].astype(str))
    return chains[ck.isin(keys)].reset_index(drop=True)


def static_chains(
    config: SFTRunConfig,
    pairs: pd.DataFrame,
    kinds: tuple[str, ...],
    cache: Path,
    products: pd.DataFrame | None = None,
    scale=None,
) -> pd.DataFrame:
    """EE/RA chains: read from ``config.chains`` or built once from the pairs, cached in the run folder."""
    kinds = tuple(k for k in kinds if k in STATIC_KINDS)
    if not kinds:
        return pd.DataFrame(columns=["query_id", "product_id", "kind", "prompt_extra", "target"])
    if config.chains is not None:
        path = Path(config.chains)
        if not path.exists():
            raise FileNotFoundError(f"chains file not found: {path}")
        chains = pd.read_parquet(path)
    else:
        # every static kind of the whole curriculum at once: later phases read the same cache
        wanted = tuple(dict.fromkeys(k for k in (*config.phases, *kinds) if k in STATIC_KINDS))
        chains = pd.read_parquet(cache) if cache.exists() else None
        if chains is None or not set(wanted) <= set(chains["kind"]):
            chains, report = _call_build_chains(
                pairs, wanted, config=chain_builder_config(config), products=products, scale=scale
            )
            cache.parent.mkdir(parents=True, exist_ok=True)
            chains.to_parquet(cache, index=False)
            log.info("built %d chains (%s): %s", len(chains), ",".join(wanted), report.get("by_kind"))
    chains = chains[chains["kind"].isin(kinds)]
    return restrict_to_pairs(chains, pairs)


def find_mistakes(
    model, tokenizer, pairs: pd.DataFrame, batch_size: int, scale=None, template: str | None = None
) -> pd.DataFrame:
    """Score pairs with the current model: one row per pair with ``pred_grade``, ``grade`` and ``correct``."""
    import torch

    from ecomrel.llm.scorer import score_pairs

    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            kw = {"scale": scale} if scale is not None else {}
            scores = score_pairs(model, tokenizer, pairs, batch_size, template=template, **kw)
    finally:
        model.train(was_training)
    scores = scores.reset_index(drop=True)
    preds = pairs[["query_id", "product_id", "grade"]].reset_index(drop=True).copy()
    for col in scores.columns:
        if col not in ("query_id", "product_id"):
            preds[col] = scores[col].to_numpy()
    preds["pred_grade"] = preds["pred_grade"].astype(int)
    preds["correct"] = preds["pred_grade"] == preds["grade"].astype(int)
    return preds


def mistake_report(preds: pd.DataFrame) -> dict[str, Any]:
    """How often, and in which direction, the scoring model was wrong (LREF's optimistic bias)."""
    wrong = preds[~preds["correct"]]
    n = len(preds)
    return {
        "n_scored": n,
        "n_mistakes": len(wrong),
        "mistake_rate": len(wrong) / n if n else 0.0,
        "optimistic_share": float((wrong["pred_grade"] > wrong["grade"]).mean()) if len(wrong) else 0.0,
    }


def dr_chains_from_mistakes(
    config: SFTRunConfig,
    model,
    tokenizer,
    pairs: pd.DataFrame,
    phase_dir: Path,
    scale=None,
    products: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """LREF's decision reflection: chains built from the mistakes of ``model`` on the training pairs."""
    scored = pairs
    if config.dr_max_pairs is not None and len(pairs) > config.dr_max_pairs:
        scored = pairs.sample(n=config.dr_max_pairs, random_state=config.seed).sort_index()
    t0 = time.perf_counter()
    preds = find_mistakes(model, tokenizer, scored, config.score_batch_size, scale, config.template)
    scoring_seconds = time.perf_counter() - t0
    preds.to_parquet(phase_dir / "predictions.parquet", index=False)
    report = {**mistake_report(preds), "scoring_seconds": round(scoring_seconds, 2)}
    if report["n_mistakes"] == 0 and config.dr_source == "model":
        log.warning("the model made no mistakes on %d training pairs: no DR chains", len(preds))
        return pd.DataFrame(columns=["query_id", "product_id", "kind", "prompt_extra", "target"]), report
    chains, chain_report = _call_build_chains(
        scored,
        ("dr",),
        predictions=preds,
        config=chain_builder_config(config, dr_source=config.dr_source),
        products=products,
        scale=scale,
    )
    chains = restrict_to_pairs(chains[chains["kind"] == "dr"], scored)
    report["n_dr_chains_built"] = len(chains)
    report["chain_report"] = chain_report
    return chains, report


def phase_examples(
    phase: Phase,
    config: SFTRunConfig,
    *,
    pairs: pd.DataFrame | None,
    model,
    tokenizer,
    scale,
    phase_dir: Path,
    run_dir: Path,
    products: pd.DataFrame | None = None,
):
    """The ``datasets.Dataset`` of one phase and a small report (counts, DR mistakes)."""
    from ecomrel.train import sft_data

    if phase.from_examples:
        ds = sft_data.load_examples(config.examples)
        return ds, {"n_examples": len(ds)}
    assert pairs is not None
    if phase.label_only:
        ds = sft_data.label_only_examples(pairs, tokenizer, scale, template=config.template)
        return ds, {"n_examples": len(ds)}
    report: dict[str, Any] = {}
    parts = []
    static = static_chains(config, pairs, phase.kinds, run_dir / "chains.parquet", products, scale)
    if len(static):
        parts.append(static)
    if phase.needs_mistakes:
        dr, report = dr_chains_from_mistakes(config, model, tokenizer, pairs, phase_dir, scale, products)
        if len(dr):
            parts.append(dr)
    chains = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["kind", "target"])
    if chains.empty:
        return sft_data.empty_examples(), {**report, "n_examples": 0}
    ds = sft_data.chain_examples(chains, pairs, tokenizer, scale, kinds=phase.kinds, template=config.template)
    counts = pd.Series(ds["kind"]).value_counts().to_dict()
    return ds, {**report, "n_examples": len(ds), "by_kind": {str(k): int(v) for k, v in counts.items()}}
