"""Configuration of LREF data selection (``ecomrel select``): helpers, rules, keep-ratio, outputs.

One pydantic model, :class:`SelectConfig`, read from YAML and overridden with ``--set key=value``
(dotted keys reach nested fields: ``--set im.sample_fraction=0.3``). Example (``select.yaml``)::

    data_dir: runs/demo/data
    out: runs/demo/select
    split: train                 # the pool: judged pairs of this split (null: every judged pair)
    folds: 3                     # K-fold cross-fitting: every pair is scored by helpers that never saw it
    scorer: {kind: cross_encoder, max_length: 64, epochs: 1}
    im: {sample_fraction: 0.5}   # Initial Model: uniform sample → pairs it already gets right are easy
    ci: {sample_fraction: 0.5}   # Challenge Identifier: band-balanced → pairs it misses are not learnable
    ms: {teacher: builtin}       # Mislabeled Supervisor: confusable-alternative targets → suspects
    mislabel: either             # suspect = MS ∪ confident learning (ms, confident, either, both, none)
    keep_ratio: null             # null: thresholds only (LREF's equations); 0.1: keep the hardest 10 %
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ecomrel.config import apply_overrides, read_yaml_mapping, validate_config
from ecomrel.reason.chains_config import TeacherConfig


class ScorerSettings(BaseModel):
    """One helper model: which relevance scorer, and how it is trained on a fold's sample."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["cross_encoder", "llm_judge", "linear"] = Field(
        "cross_encoder",
        description="'cross_encoder': the MiniLM student (CPU default); 'llm_judge': the LLM judge with a "
        "LoRA adapter (GPU); 'linear': hashed query×product word features + logistic regression (seconds).",
    )
    base_model: str | None = Field(
        None,
        description="Model to fine-tune: a local folder (cross_encoder; default the packaged MiniLM-L6) or "
        "a name load_model knows (llm_judge; default smollm2).",
    )
    max_length: int = Field(64, ge=8, le=2048, description="Max tokens per pair (query + product text).")
    product_fields: list[str] = Field(
        default_factory=lambda: ["title", "brand", "category", "attributes", "price"],
        description="Product fields in the cross-encoder's product text (empty ones skipped).",
    )
    epochs: float = Field(1.0, gt=0, description="Training epochs over a fold's sample.")
    max_steps: int = Field(-1, description="Stop after this many optimizer steps (-1: run all epochs).")
    batch_size: int = Field(32, ge=1, description="Training batch size.")
    eval_batch_size: int = Field(128, ge=1, description="Batch size when scoring held-out pairs.")
    learning_rate: float = Field(
        6e-5,
        gt=0,
        description="AdamW learning rate (cross_encoder, llm_judge); C of the linear model is 1/lr·1e-4.",
    )
    lora_r: int = Field(8, ge=1, description="LoRA rank (llm_judge).")
    lora_top_layers: int | None = Field(
        None, ge=1, description="Adapt only the last N decoder layers (llm_judge; cheaper on CPU)."
    )
    linear_features: int = Field(2**18, ge=256, description="Hashed feature space of the linear scorer.")
    precision: Literal["auto", "fp32", "bf16"] = Field(
        "fp32", description="Training precision (llm_judge: passed to SFT; cross_encoder: bf16 autocast)."
    )
    num_threads: int | None = Field(1, ge=1, description="torch CPU threads (None: torch's default).")
    device: str | None = Field(None, description="'cpu', 'cuda', ... (None: CUDA when available).")


class HelperConfig(BaseModel):
    """Settings shared by the three helpers: whether it runs and how much of a fold it trains on."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(True, description="Train this helper and apply its rule (false: the rule is off).")
    sample_fraction: float = Field(
        0.5,
        gt=0,
        le=1,
        description="Share of the other folds' pairs this helper trains on (LREF: different samples).",
    )
    max_train_pairs: int | None = Field(
        None, ge=1, description="Cap on training pairs per fold (quick runs)."
    )
    scorer: ScorerSettings | None = Field(
        None, description="This helper's own scorer (None: the shared `scorer`)."
    )


class IMConfig(HelperConfig):
    """Initial Model: trained on a uniform sample; a pair it gets right with confidence ≥ τ is easy."""

    easy_confidence: float = Field(
        0.0,
        ge=0,
        le=1,
        description="τ: a pair is easy when IM's top grade is the label and p_IM(label) ≥ τ "
        "(0 = LREF's IM(x) = L(x)).",
    )


class CIConfig(HelperConfig):
    """Challenge Identifier: trained on a head/torso/tail balanced sample; its misses are not learnable."""

    min_confidence: float = Field(
        0.0,
        ge=0,
        le=1,
        description="A pair is learnable when CI's top grade is the label and p_CI(label) ≥ this "
        "(0 = LREF's CI(x) = L(x)).",
    )
    oversample: bool = Field(
        True,
        description="Draw a short band with replacement so that the three bands have equal shares.",
    )


class MSConfig(HelperConfig):
    """Mislabeled Supervisor: learns a label's confusable alternative; reproducing the label = suspect."""

    teacher: Literal["builtin", "openai"] = Field(
        "builtin",
        description="Who names the confusable alternative: 'builtin' (attribute analyst + rules) or an "
        "OpenAI-compatible endpoint (`teacher_config`).",
    )
    teacher_config: TeacherConfig | None = Field(
        None, description="Endpoint settings for teacher=openai (base_url, model, api_key_env, cache)."
    )
    min_confidence: float = Field(
        0.0,
        ge=0,
        le=1,
        description="A pair is suspect when MS's top grade is the label and p_MS(label) ≥ this.",
    )


class ConfidentConfig(BaseModel):
    """Confident learning (cleanlab) on the helpers' out-of-fold probabilities, made ordinal-aware."""

    model_config = ConfigDict(extra="forbid")

    probs: Literal["im", "ci", "mean"] = Field(
        "mean", description="Whose out-of-fold probabilities: IM's, CI's, or their mean."
    )
    filter_by: Literal[
        "prune_by_noise_rate", "prune_by_class", "both", "confident_learning", "predicted_neq_given"
    ] = Field("prune_by_noise_rate", description="cleanlab.filter.find_label_issues filter_by.")
    min_distance: float = Field(
        1.0,
        ge=0,
        description="Ordinal rule: a flag needs |suspected − given| ≥ this (suspected = the top grade, or "
        "the expected grade with distance=expected).",
    )
    distance: Literal["argmax", "expected"] = Field(
        "argmax", description="Suspected grade for the distance rule: top grade or expected grade Σ k·p_k."
    )


class SelectConfig(BaseModel):
    """Everything ``run_selection`` needs; echoed to ``<out>/config.yaml``."""

    model_config = ConfigDict(extra="forbid")

    data_dir: Path = Field(
        description="ecomrel data folder (products, queries, judgments; splits for `split`)."
    )
    out: Path = Field(
        Path("runs/select"), description="Output folder (a run's select/): decisions, helpers, metrics."
    )
    split: str | None = Field(
        "train", description="The pool: judged pairs of this split (null: every judged pair of the folder)."
    )
    max_pairs: int | None = Field(
        None, ge=1, description="Use a seeded sample of at most this many pool pairs."
    )
    folds: int = Field(3, ge=2, le=20, description="K of K-fold cross-fitting.")
    group_by_query: bool = Field(
        True, description="Folds by query (a helper never saw the query of a pair it scores), else by pair."
    )
    frequency: Literal["auto", "column", "judgments"] = Field(
        "auto",
        description="Query frequency for head/torso/tail bands: the queries' `frequency` column, the number "
        "of judged pairs per query, or 'auto' (the column where it has values).",
    )
    scorer: ScorerSettings = Field(default_factory=ScorerSettings, description="The helpers' default scorer.")
    im: IMConfig = Field(default_factory=IMConfig, description="Initial Model (easy-pair filter).")
    ci: CIConfig = Field(default_factory=CIConfig, description="Challenge Identifier (learnability filter).")
    ms: MSConfig = Field(default_factory=MSConfig, description="Mislabeled Supervisor (suspect filter).")
    confident: ConfidentConfig = Field(
        default_factory=ConfidentConfig, description="Confident learning settings (used per `mislabel`)."
    )
    mislabel: Literal["ms", "confident", "either", "both", "none"] = Field(
        "either",
        description="What makes a pair suspect: MS alone (LREF), confident learning alone, either (union), "
        "both (intersection), or none.",
    )
    keep_ratio: float | None = Field(
        None,
        gt=0,
        lt=1,
        description="Target share of the pool to keep: clean, learnable pairs ranked hardest first (lowest "
        "p_IM(label)) per grade × band stratum. null: the threshold rules alone decide.",
    )
    min_per_stratum: int = Field(
        1,
        ge=0,
        description="Stratification floor: every grade × band present in the pool keeps at least this many "
        "pairs (re-admitted easy pairs first, then not-learnable ones; suspects never).",
    )
    allow_empty: bool = Field(False, description="Do not fail when nothing is dropped or nothing is kept.")
    seed: int = Field(0, description="Seed of folds, samples, training and the random baseline flagger.")

    @model_validator(mode="after")
    def _check(self) -> SelectConfig:
        has_ms, has_cl = self.ms.enabled, self.im.enabled or self.ci.enabled
        need = {"ms": has_ms, "both": has_ms and has_cl, "confident": has_cl, "either": has_ms or has_cl}
        if not need.get(self.mislabel, True):
            raise ValueError(
                f"mislabel={self.mislabel!r} needs the MS helper (ms.enabled) and/or IM or CI probabilities "
                "for confident learning"
            )
        return self

    def scorer_for(self, helper: str) -> ScorerSettings:
        own = getattr(self, helper).scorer
        return own if own is not None else self.scorer

    @classmethod
    def from_yaml(
        cls,
        path: str | Path | None = None,
        overrides: Iterable[str] = (),
        fields: Mapping[str, Any] | None = None,
    ) -> SelectConfig:
        """YAML (optional; a top-level ``select:`` section is accepted), ``key=value`` overrides, then
        typed top-level ``fields`` (the CLI's --data/--out). Errors are one line naming file and field."""
        raw: dict[str, Any] = {}
        if path is not None:
            loaded = read_yaml_mapping(path)
            raw = loaded["select"] if isinstance(loaded.get("select"), dict) else loaded
        raw = apply_overrides(raw, overrides)
        raw.update(
            {k: str(v) if isinstance(v, Path) else v for k, v in (fields or {}).items() if v is not None}
        )
        return validate_config(cls, raw, path, "select")

    def to_yaml(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False))
        return path
