"""Configuration of the ranking stage (Walmart LLM-label ranking): labels, features, ranker, trade-off.

One pydantic model per concern, all collected in :class:`RankConfig`, loadable from YAML::

    labels:
      content: {kind: sigmoid, alpha: 10, beta: 0.6}
      engagement: {prior: query, prior_strength: 20}
      blend: {rule: content_gated, content_bands: 3, engagement_levels: 4}
    ranker: {engine: lightgbm, n_estimators: 200}

Every field has a description; ``docs/ranking_labels.md`` explains the label family with plots.

Presets (``preset: NAME`` at the top of the config, or ``ecomrel rank features|train --preset NAME``)
fill in every field the config does not set itself (what the config sets wins):

- ``content_only`` — data without engagement, price or category (Home Depot: human grades on
  titles only). Labels: the human grade (``content_source: human``), identity transform,
  ``blend.rule: content_only`` with ``levels: 4`` (so the training label *is* the grade 0..3 on
  the default scale) and a ``linear`` gain (grade l has gain l, like ``ecomrel eval``'s NDCG);
  features: lexical (bm25, tfidf) plus the judge / student scores when given; no engagement,
  price or category features, so nothing is required beyond products' titles, queries and
  graded judgments.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ecomrel.config import read_yaml_mapping, validate_config

ContentKind = Literal["identity", "sigmoid", "sigmoid_rescaled", "step"]
BlendRule = Literal["content_gated", "weighted_sum", "multiplicative", "content_only", "engagement_only"]


class ContentTransform(BaseModel):
    """How the judge's normalised expected grade s ∈ [0, 1] becomes the content label c ∈ [0, 1]."""

    model_config = ConfigDict(extra="forbid")
    kind: ContentKind = Field(
        "sigmoid",
        description="identity: c = s; sigmoid: c = σ(α(s−β)); sigmoid_rescaled: the sigmoid min-max "
        "rescaled so that c(0)=0 and c(1)=1; step: c = 1 if s ≥ β else 0 (α ignored).",
    )
    alpha: float = Field(
        10.0, gt=0, description="Steepness α of the sigmoid: larger polarizes the middle more."
    )
    beta: float = Field(
        0.6, ge=0, le=1, description="Centre β on the normalised scale (2/3 = 'substitute' on 0..3)."
    )

    def name(self) -> str:
        if self.kind == "identity":
            return "identity"
        if self.kind == "step":
            return f"step(β={self.beta:g})"
        return f"{self.kind}(α={self.alpha:g},β={self.beta:g})"


class EngagementConfig(BaseModel):
    """Bayesian-average engagement: rate = (events + m·prior) / (impressions + m)."""

    model_config = ConfigDict(extra="forbid")
    prior: Literal["global", "query"] = Field(
        "query",
        description="Prior rate: the global rate of the log, or the pair's query rate (itself shrunk to "
        "the global rate with the same strength).",
    )
    prior_strength: float = Field(
        20.0, ge=0, description="m: pseudo-impressions of the prior; 0 gives raw rates."
    )
    click_weight: float = Field(1.0, ge=0, description="Weight of the smoothed click-through rate.")
    add_to_cart_weight: float = Field(2.0, ge=0, description="Weight of the smoothed add-to-cart rate.")
    order_weight: float = Field(4.0, ge=0, description="Weight of the smoothed order rate.")
    normalise: Literal["query_max", "global_max", "query_rank"] = Field(
        "query_max",
        description="Map the weighted rate to [0, 1]: divide by the query's maximum, by the global 99th "
        "percentile (clipped), or use the within-query percentile rank.",
    )

    @model_validator(mode="after")
    def _some_weight(self) -> EngagementConfig:
        if self.click_weight + self.add_to_cart_weight + self.order_weight <= 0:
            raise ValueError("at least one engagement weight must be positive")
        return self


class BlendConfig(BaseModel):
    """How the content label c and the engagement label e make one integer training grade."""

    model_config = ConfigDict(extra="forbid")
    rule: BlendRule = Field(
        "content_gated",
        description="content_gated: grade = band(c)·E + level(e), engagement orders products inside content "
        "bands; weighted_sum: y = λc + (1−λ)e; multiplicative: y = c·e; content_only: y = c; "
        "engagement_only: y = e.",
    )
    weight: float = Field(0.5, ge=0, le=1, description="λ of weighted_sum (weight of the content label).")
    levels: int = Field(
        5, ge=2, le=31, description="Integer grades 0..levels−1 for every rule except content_gated."
    )
    content_bands: int = Field(3, ge=2, le=8, description="content_gated: number of content bands B.")
    engagement_levels: int = Field(
        4, ge=1, le=8, description="content_gated: engagement levels E inside a band (B·E ≤ 31)."
    )
    label_gain: Literal["exponential", "linear"] = Field(
        "exponential", description="NDCG gain of grade l used in training: 2^l − 1 or l."
    )

    @model_validator(mode="after")
    def _fits(self) -> BlendConfig:
        if self.rule == "content_gated" and self.content_bands * self.engagement_levels > 31:
            raise ValueError("content_bands × engagement_levels must be ≤ 31 (LightGBM's label limit)")
        return self

    def n_grades(self) -> int:
        return self.content_bands * self.engagement_levels if self.rule == "content_gated" else self.levels

    def name(self) -> str:
        if self.rule == "weighted_sum":
            return f"weighted_sum(λ={self.weight:g})"
        return self.rule


class LabelConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    content: ContentTransform = Field(default_factory=ContentTransform, description="Content transform.")
    engagement: EngagementConfig = Field(default_factory=EngagementConfig, description="Engagement label.")
    blend: BlendConfig = Field(default_factory=BlendConfig, description="Blend rule and integer binning.")
    content_source: Literal["judge", "human"] = Field(
        "judge", description="Score behind the content label: the judge's expected grade or the human grade."
    )

    def name(self) -> str:
        if self.blend.rule == "engagement_only":
            return "engagement_only"
        return f"{self.blend.name()}[{self.content.name()}]"


class FeatureConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lexical: list[Literal["bm25", "tfidf"]] = Field(
        default_factory=lambda: ["bm25", "tfidf"],
        description="Lexical scores from ecomrel.baselines.lexical.",
    )
    judge: bool = Field(True, description="Judge expected grade and p_0..p_K as features (when given).")
    engagement: Literal["leave_query_out", "pair", "none"] = Field(
        "leave_query_out",
        description="Engagement features: leave_query_out = product-level smoothed rates and popularity from "
        "the feature-log queries other than the row's own (no leakage of held-out queries' logs); "
        "pair = also the pair's own smoothed rates (production-style historical features; leaks when "
        "evaluated on the same logs); none = no engagement features.",
    )
    price: bool = Field(True, description="Price, log price, and price relative to the query's median.")
    category: bool = Field(True, description="Category / brand match signals.")
    prior_strength: float = Field(20.0, ge=0, description="m of the Bayesian average of engagement features.")


class RankerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    engine: Literal["lightgbm", "xgboost"] = Field(
        "lightgbm", description="lightgbm: LGBMRanker lambdarank; xgboost: XGBRanker rank:ndcg."
    )
    n_estimators: int = Field(200, ge=1, description="Boosting rounds.")
    learning_rate: float = Field(0.05, gt=0, description="Shrinkage.")
    num_leaves: int = Field(15, ge=2, description="Leaves per tree (xgboost: max_leaves with depth 6).")
    min_child_samples: int = Field(10, ge=1, description="Minimum rows per leaf (xgboost: min_child_weight).")
    eval_at: int = Field(
        10,
        ge=1,
        description="xgboost: NDCG cut-off of its eval metric and top-k pairs per sample "
        "(lightgbm keeps its own lambdarank_truncation_level default).",
    )
    max_rows_per_query: int = Field(
        10_000, ge=1, description="LightGBM's per-query row limit for lambdarank; checked before training."
    )
    n_jobs: int = Field(1, ge=1, description="Threads (the dev box has 2 shared cores).")
    seed: int = Field(0, description="Random seed.")


class TradeoffConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    k: int = Field(10, ge=1, description="Cut-off of NDCG@k and engagement@k.")
    alphas: list[float] = Field(default_factory=lambda: [5.0, 10.0, 20.0], description="Sigmoid α grid.")
    betas: list[float] = Field(default_factory=lambda: [0.5, 0.6, 0.75], description="Sigmoid β grid.")
    blend_weights: list[float] = Field(
        default_factory=lambda: [0.25, 0.5, 0.75], description="λ grid of the weighted_sum blend."
    )
    max_engagement_loss: float = Field(
        0.02, ge=0, le=1, description="Largest relative engagement@k loss allowed for the 'best blend'."
    )
    train_split: str = Field(
        "train", description="Split whose queries train the rankers and feed feature logs."
    )
    eval_split: str = Field("test", description="Held-out split evaluated.")


PRESETS: dict[str, dict[str, Any]] = {
    "content_only": {
        "labels": {
            "content_source": "human",
            "content": {"kind": "identity"},
            "blend": {"rule": "content_only", "levels": 4, "label_gain": "linear"},
        },
        "features": {
            "lexical": ["bm25", "tfidf"],
            "engagement": "none",
            "price": False,
            "category": False,
        },
    },
}
"""Named starting points of a rank config (see the module docstring); the config's own fields win."""


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = _deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def apply_preset(raw: dict[str, Any], preset: str | None = None) -> dict[str, Any]:
    """``raw`` (a rank config mapping) on top of the preset it names (``preset:`` key, or ``preset``
    given here, which wins); unknown names raise ``ValueError`` listing the known ones."""
    name = preset if preset is not None else raw.get("preset")
    if name is None:
        return raw
    if name not in PRESETS:
        raise ValueError(f"unknown rank preset {name!r}; known: {', '.join(PRESETS)}")
    return {**_deep_merge(PRESETS[name], {k: v for k, v in raw.items() if k != "preset"}), "preset": name}


class RankConfig(BaseModel):
    """The whole ranking stage."""

    model_config = ConfigDict(extra="forbid")
    preset: Literal["content_only"] | None = Field(
        None,
        description="Starting point for every field not set here: content_only = human grades as labels "
        "(linear gain), lexical + judge/student features, no engagement/price/category needed.",
    )

    @model_validator(mode="before")
    @classmethod
    def _preset(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("preset") is not None:
            if data["preset"] not in PRESETS:
                return data  # the Literal field reports the unknown name with the allowed ones
            return apply_preset(data)
        return data

    labels: LabelConfig = Field(default_factory=LabelConfig, description="Training labels.")
    features: FeatureConfig = Field(default_factory=FeatureConfig, description="Ranking features.")
    ranker: RankerConfig = Field(default_factory=RankerConfig, description="Learning-to-rank engine.")
    tradeoff: TradeoffConfig = Field(default_factory=TradeoffConfig, description="Trade-off evaluation.")

    @classmethod
    def from_yaml(cls, path: str | Path | None, preset: str | None = None) -> RankConfig:
        """Load and validate a YAML file; ``None`` gives the defaults. Errors name the file and field.

        ``preset`` (e.g. ``"content_only"``; the CLI's ``--preset``) replaces the file's ``preset:``."""
        raw: dict[str, Any] = {}
        if path is not None:
            raw = read_yaml_mapping(path)
            raw = raw.get("rank", raw)  # accept a pipeline-style `rank:` section too
        if preset is not None:
            raw = {**raw, "preset": preset}
        if not raw:
            return cls()
        return validate_config(cls, raw, path, "rank")
