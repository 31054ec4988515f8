"""Configuration of batch judging (``ecomrel judge`` / :func:`ecomrel.llm.judge.run_judge`)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ecomrel.config import read_yaml_mapping, validate_config
from ecomrel.errors import ConfigError
from ecomrel.grades import SCALE_FIELD_DESCRIPTION, GradeScale, ScaleSpec, get_scale


class JudgeConfig(BaseModel):
    """Score every judged pair of a data folder with the LLM judge; one YAML block or CLI flags."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    model: str = Field("smollm2", description="Built-in name ('smollm2'), local model folder, or hub id.")
    adapter: Path | None = Field(None, description="Optional peft LoRA adapter folder applied on top.")
    data: Path = Field(..., description="ecomrel data folder (products/queries/judgments Parquet).")
    out: Path = Field(..., description="Output folder: scores.parquet, parts/, manifest.json.")
    split: str | None = Field(
        None, description="Judge only this split's pairs (train/dev/test); all if None."
    )
    limit: int | None = Field(
        None, ge=1, description="Judge at most this many pairs (whole queries, seeded)."
    )
    limit_queries: int | None = Field(
        None,
        ge=1,
        description="Judge every pair of this many whole queries (seeded sample); excludes `limit`.",
    )
    limit_seed: int = Field(0, description="Seed of the query sample taken by `limit` / `limit_queries`.")
    batch_size: int = Field(16, ge=1, description="Rows per forward pass.")
    share_prefix: bool = Field(True, description="Encode each query's shared prompt prefix once (KV cache).")
    chunk_size: int = Field(64, ge=1, description="Pairs per resumable part file (whole queries per chunk).")
    threads: int | None = Field(
        None, ge=1, description="torch threads; None = ECOMREL_THREADS or half the cores."
    )
    dtype: Literal["float32", "bfloat16"] = Field(
        "float32",
        description="Weights and activations of the local/Ray scorer. bfloat16 is ~2.7x faster on CPUs with "
        "AVX512-BF16 or AMX (measured by benchmarks/judge_speed.py --dtype bfloat16); grade probabilities "
        "move by a few hundredths.",
    )
    scale: ScaleSpec = Field("default", description=SCALE_FIELD_DESCRIPTION)
    template: str = Field("judge_v1", description="Built-in prompt template name or a YAML file path.")
    padding_side: Literal["left", "right"] = Field("right", description="Padding side of scoring batches.")
    thresholds: Path | None = Field(None, description="CumPT thresholds JSON to apply (file or folder).")
    tune_split: str | None = Field(
        None, description="Tune CumPT thresholds on the scored pairs of this split (e.g. 'dev')."
    )
    cumpt_objective: Literal["macro_f1", "precision"] = Field(
        "macro_f1", description="CumPT tuning objective."
    )
    precision_target: float = Field(
        0.8, gt=0, le=1, description="Per-tier precision target (objective=precision)."
    )
    save_thresholds_beside_model: bool = Field(
        True,
        description="Also write tuned thresholds into the local adapter/model folder when writable.",
    )
    backend: Literal["local", "ray", "vllm"] = Field("local", description="Where the batch function runs.")
    ray_address: str | None = Field(
        None, description="Ray cluster address (backend=ray); None starts a local one."
    )
    ray_num_cpus: int | None = Field(None, ge=1, description="CPUs for a local Ray instance (backend=ray).")
    ray_concurrency: int = Field(1, ge=1, description="Scoring actors (model copies) in the Ray pool.")
    overwrite: bool = Field(
        False, description="Discard parts of an earlier run with a different configuration."
    )

    @field_validator("scale")
    @classmethod
    def _known_scale(cls, v: ScaleSpec) -> ScaleSpec:
        get_scale(v)  # an unknown name or a malformed custom scale fails here, before any work
        return v

    @model_validator(mode="after")
    def _one_limit(self) -> JudgeConfig:
        if self.limit is not None and self.limit_queries is not None:
            raise ConfigError(
                f"limit ({self.limit} pairs) and limit_queries ({self.limit_queries} whole queries) are "
                "mutually exclusive: set one (--limit or --limit-queries)"
            )
        return self

    @property
    def grade_scale(self) -> GradeScale:
        """The :class:`~ecomrel.grades.GradeScale` that ``scale`` names."""
        return get_scale(self.scale)

    @classmethod
    def from_yaml(cls, path: str | Path, **overrides: object) -> JudgeConfig:
        """Load a YAML file (a top-level ``judge:`` section or the fields themselves); keyword
        overrides that are not None win over the file. Errors name the file and the field."""
        data = read_yaml_mapping(path)
        if isinstance(data.get("judge"), dict):
            data = dict(data["judge"])
        data.update({k: v for k, v in overrides.items() if v is not None})
        return validate_config(cls, data, path, "judge")
