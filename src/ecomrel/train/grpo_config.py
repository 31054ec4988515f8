"""Configuration of GRPO for the LLM judge with difficulty-based dynamic sampling (TaoSR1 stage 3).

:class:`GRPORunConfig` holds ecomrel's own fields (start model, data, rewards, dynamic sampling,
class balance, total steps, output folder) plus ``training_args``: any field of
:class:`trl.GRPOConfig` (``num_generations``, ``max_completion_length``, ``beta``, ``temperature``,
``learning_rate``, ``loss_type`` ...), validated by constructing ``trl.GRPOConfig`` itself. YAML
(optionally under a ``grpo:`` key) plus ``--set key=value`` overrides (``--set
training_args.beta=0.04``, ``--set sampling.resample_every=4``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ecomrel.config import apply_overrides, read_yaml_mapping, validate_config
from ecomrel.train.common import LoRASettings

TRAINING_ARGS_DEFAULTS: dict[str, Any] = {
    "num_generations": 4,
    "max_completion_length": 24,
    "per_device_train_batch_size": 8,  # completions per step: 8 / num_generations prompts
    "gradient_accumulation_steps": 1,
    "learning_rate": 5e-5,
    "lr_scheduler_type": "constant",
    "beta": 0.02,  # KL to the start model (TaoSR1's sister paper: 0.02)
    "temperature": 1.0,
    "logging_steps": 1,
    "save_strategy": "steps",
    "save_total_limit": 2,
    "gradient_checkpointing": False,  # trl's default is True; on a CPU the recompute costs more than it saves
    "report_to": "none",
    "disable_tqdm": True,
    "dataloader_num_workers": 0,
    "dataloader_pin_memory": False,
}
"""ecomrel's defaults for ``trl.GRPOConfig``; any key of ``training_args`` replaces them."""

OWNED_TRAINING_ARGS = (
    "output_dir",
    "max_steps",
    "bf16",
    "fp16",
    "seed",
    "data_seed",
    "reward_weights",
    "remove_unused_columns",
    "ignore_data_skip",
    "num_train_epochs",
)
"""``trl.GRPOConfig`` fields ecomrel sets itself (from the config's own fields)."""


class RewardSettings(BaseModel):
    """Weights of the rewards (trl sums weight × reward) and their options (:mod:`ecomrel.train.rewards`)."""

    model_config = ConfigDict(extra="forbid")

    correct: float = Field(1.0, ge=0.0, description="Weight of the correct-grade reward (1/0 or ordinal).")
    format: float = Field(0.25, ge=0.0, description="Weight of the well-formed label-first answer reward.")
    consistency: float = Field(
        0.25,
        ge=0.0,
        description="Weight of the reasoning-agrees-with-its-label reward (0 = off; the hallucination rate "
        "is measured either way).",
    )
    ordinal: bool = Field(
        False, description="Partial credit 1 - |grade - gold| / max_grade for a near miss (TaoSR1: 1/0)."
    )
    missing_verdict: float = Field(
        0.5,
        ge=0.0,
        le=1.0,
        description="Consistency reward of an answer whose reasoning states no verdict (absent or cut).",
    )

    @model_validator(mode="after")
    def _some_weight(self) -> RewardSettings:
        if self.correct == 0 and self.format == 0 and self.consistency == 0:
            raise ValueError("every reward weight is 0: give correct, format or consistency a weight")
        return self

    def weights(self) -> dict[str, float]:
        return {"correct": self.correct, "format": self.format, "consistency": self.consistency}


class SamplingSettings(BaseModel):
    """Difficulty-based dynamic sampling and the class-balanced pool (:mod:`ecomrel.mining.difficulty`)."""

    model_config = ConfigDict(extra="forbid")

    dynamic: bool = Field(
        True,
        description="Keep only prompts with 0 < #correct < gamma among G samples of the current policy "
        "(False: train on every prompt; the baseline).",
    )
    num_samples: int | None = Field(
        None, ge=1, description="G samples per prompt for the pass-rate estimate (default: num_generations)."
    )
    gamma: int | None = Field(
        None,
        ge=1,
        description="Keep prompts with fewer than gamma correct samples (default: G, DAPO's filter).",
    )
    resample_every: int = Field(
        8, ge=1, description="K: re-estimate the pass rates (and rebuild the pool) every K optimizer steps."
    )
    temperature: float | None = Field(
        None, gt=0, description="Sampling temperature of the estimate (default: training_args.temperature)."
    )
    max_new_tokens: int | None = Field(
        None,
        ge=1,
        description="Tokens generated per estimate sample (default: training_args.max_completion_length); "
        "the grade is the first, so a few suffice.",
    )
    batch_size: int = Field(8, ge=1, description="Prompts per generation batch of the estimate.")
    balance: bool = Field(True, description="Down-sample the kept pool to balance its grades.")
    target_cv: float = Field(
        0.0, ge=0.0, description="Largest coefficient of variation of the pool's grade counts (0 = balanced)."
    )


class GRPORunConfig(BaseModel):
    """Everything one ``ecomrel train grpo`` run needs; echoed to ``<output_dir>/config.yaml``."""

    model_config = ConfigDict(extra="forbid")

    # --- model -------------------------------------------------------------------------------------
    base_model: str = Field(
        "smollm2",
        description="Model name known to ecomrel.llm.models.load_model, a local folder or a hub id.",
    )
    adapter: str | None = Field(
        None,
        description="LoRA adapter to start from (the SFT or DPO adapter): merged into the base, so the start "
        "model is also GRPO's reference model; a new LoRA adapter is trained on top.",
    )
    lora: LoRASettings = Field(default_factory=LoRASettings, description="LoRA of the GRPO adapter.")
    num_threads: int | None = Field(
        None, ge=1, description="torch CPU threads (unset: ECOMREL_THREADS or torch's)."
    )

    # --- data --------------------------------------------------------------------------------------
    data: str | None = Field(
        None, description="ecomrel data folder whose judged pairs of `split` are the prompts."
    )
    split: str = Field("train", description="Split of `data` trained on.")
    examples: str | None = Field(
        None,
        description="Instead of `data`: a Parquet/JSONL file with a rendered 'prompt' and its 'gold_grade'.",
    )
    max_prompts: int | None = Field(None, ge=1, description="Use at most this many prompts (seeded sample).")
    template: str | None = Field(
        None,
        description="Judge prompt template (built-in name such as judge_title, or a YAML file) the start "
        "adapter was trained with; `data` prompts are rendered with it (None: the default judge_v1).",
    )
    scale: Literal["default", "lref"] = Field(
        "default", description="Grade scale: 'default' (4) or 'lref' (5)."
    )

    # --- GRPO --------------------------------------------------------------------------------------
    rewards: RewardSettings = Field(default_factory=RewardSettings, description="Reward weights and options.")
    sampling: SamplingSettings = Field(
        default_factory=SamplingSettings, description="Dynamic sampling and class balance."
    )
    max_steps: int = Field(16, ge=1, description="Optimizer steps in total (over every resampling round).")
    precision: Literal["auto", "fp32", "bf16", "fp16"] = Field(
        "auto", description="'auto' = bf16 on CPUs with AVX512-BF16/AMX and on bf16 GPUs, fp32 elsewhere."
    )
    seed: int = Field(0, description="Seed of LoRA init, prompt order, sampling and the pool draws.")
    training_args: dict[str, Any] = Field(
        default_factory=dict,
        description="Any trl.GRPOConfig field (num_generations, max_completion_length, beta, temperature, "
        "learning_rate, loss_type, ...); ecomrel's defaults: grpo_config.TRAINING_ARGS_DEFAULTS.",
    )

    # --- evaluation --------------------------------------------------------------------------------
    eval_split: str | None = Field(
        None, description="After training, generate answers for this split of `data` and evaluate them."
    )
    eval_max_pairs: int | None = Field(
        64, ge=1, description="Evaluate at most this many pairs (seeded sample)."
    )
    eval_max_new_tokens: int = Field(24, ge=1, description="Tokens generated per evaluated answer (greedy).")

    # --- output / resume ---------------------------------------------------------------------------
    output_dir: str = Field(
        "runs/grpo", description="Run folder: rounds/, checkpoints/, adapter/, steps.jsonl."
    )
    resume: bool = Field(
        True,
        description="Continue a killed run from its last complete checkpoint (rounds keep their pools).",
    )

    @model_validator(mode="after")
    def _needs_data(self) -> GRPORunConfig:
        if self.examples is None and self.data is None:
            raise ValueError("set either `data` (a data folder) or `examples` (a prompt/gold_grade file)")
        if self.eval_split is not None and self.data is None:
            raise ValueError("eval_split needs `data` (a data folder)")
        return self

    def merged_training_args(self) -> dict[str, Any]:
        """ecomrel's defaults with the user's ``training_args`` on top (before owned fields)."""
        return {**TRAINING_ARGS_DEFAULTS, **self.training_args}

    @property
    def num_generations(self) -> int:
        return int(self.merged_training_args()["num_generations"])

    @classmethod
    def from_yaml(
        cls,
        path: str | Path | None = None,
        overrides: Iterable[str] = (),
        fields: Mapping[str, Any] | None = None,
    ) -> GRPORunConfig:
        """Load a YAML file (optional), apply ``fields`` (non-None values) and ``key=value`` overrides."""
        raw: dict[str, Any] = {}
        if path is not None:
            loaded = read_yaml_mapping(path)
            raw = loaded["grpo"] if isinstance(loaded.get("grpo"), dict) else loaded
        raw.update({k: v for k, v in (fields or {}).items() if v is not None})
        raw = apply_overrides(raw, overrides)
        return validate_config(cls, raw, path, "GRPO")

    def to_yaml(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False))
        return path


def demo_config(data: str | Path, output_dir: str | Path, **changes: Any) -> GRPORunConfig:
    """GRPO sized for the demo on a 2-core CPU: SmolLM2, LoRA on the top 2 layers, 4 steps, K = 2.

    ``changes`` override any field (e.g. ``adapter=<sft adapter>``, ``max_steps=2``).
    """
    base: dict[str, Any] = {
        "base_model": "smollm2",
        "data": str(data),
        "output_dir": str(output_dir),
        "max_prompts": 32,
        "max_steps": 4,
        "lora": {"r": 8, "alpha": 16, "dropout": 0.0, "top_layers": 2},
        "sampling": {"resample_every": 2, "max_new_tokens": 2},
        "rewards": {"consistency": 0.0},
        "training_args": {"max_completion_length": 8, "per_device_train_batch_size": 8},
    }
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            base[key] = {**base[key], **value}
        else:
            base[key] = value
    return GRPORunConfig.model_validate(base)
