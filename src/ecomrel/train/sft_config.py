"""Configuration of Multi-CoT SFT of the LLM judge (LREF §1.4, TaoSR1 §3.3).

One pydantic model, :class:`SFTRunConfig`, read from YAML and overridden from the command line
with ``--set key=value`` (dotted keys reach nested fields: ``--set lora.r=8``). Values given with
``--set`` are parsed as YAML scalars, so ``--set training_args.max_steps=20`` is an int and
``--set phases=[ee,ra]`` a list.

Following trl's pattern the config holds ecomrel's own fields (model, data, curriculum, LoRA,
precision, seed, output folder) plus ``training_args``: any field of ``trl.SFTConfig``
(``num_train_epochs``, ``max_steps``, ``per_device_train_batch_size``, ``learning_rate``,
``lr_scheduler_type``, ``lr_scheduler_kwargs``, ``optim``, ``max_grad_norm``, ``max_length``,
``activation_checkpointing``, ``eval_strategy``, ``report_to`` ...), checked by name when the
config is read and validated by constructing ``SFTConfig`` when a phase starts. ecomrel's
defaults are :data:`TRAINING_DEFAULTS`; ``output_dir``, the seeds and bf16/fp16 are ecomrel's.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ecomrel.config import apply_overrides, read_yaml_mapping, validate_config
from ecomrel.grades import SCALE_FIELD_DESCRIPTION, ScaleSpec, get_scale
from ecomrel.train.args_check import check_training_arg_names
from ecomrel.train.common import LoRASettings, Precision

PhaseName = Literal["ee", "ra", "dr", "rag"]
"""LREF's three chain kinds: expert explaining, rule adherence, decision reflection; and TaoSR1's
retrieved-rule chains (``rag``, :mod:`ecomrel.reason.rag_chains`; ``phases: [rag]``)."""


TRAINING_DEFAULTS: dict[str, Any] = {
    "num_train_epochs": 1.0,
    "max_steps": -1,
    "per_device_train_batch_size": 4,
    "gradient_accumulation_steps": 1,
    "learning_rate": 2e-4,
    "lr_scheduler_type": "linear",
    "warmup_steps": 0.0,  # a float < 1 is a ratio of the total steps
    "weight_decay": 0.0,
    "max_length": 1024,
    "completion_only_loss": True,  # labels of prompt tokens are -100 (trl prompt-completion format)
    "packing": False,
    # trl's own default is gradient_checkpointing=True, which transformers 5 reads as the deprecated alias
    # (a FutureWarning per phase); the new name, off, is what ecomrel has always trained with on CPU.
    "activation_checkpointing": False,
    "save_strategy": "steps",
    "save_steps": 50,
    "save_total_limit": 2,
    "logging_steps": 10,
    "report_to": "none",
    "disable_tqdm": True,
    "dataloader_num_workers": 0,
}
"""ecomrel's defaults for ``trl.SFTConfig`` (per phase); a key in ``training_args`` replaces one."""

OWNED_TRAINING_ARGS = ("output_dir", "seed", "data_seed", "bf16", "fp16")
"""``SFTConfig`` fields ecomrel sets itself (from ``output_dir``, ``seed`` and ``precision``)."""


class SFTRunConfig(BaseModel):
    """Everything one ``ecomrel train sft`` run needs; echoed to ``<output_dir>/config.yaml``."""

    model_config = ConfigDict(extra="forbid")

    # --- model -------------------------------------------------------------------------------------
    base_model: str = Field(
        "smollm2",
        description="Model name known to ecomrel.llm.models.load_model, a local folder or a hub id.",
    )
    adapter: str | None = Field(
        None, description="Optional LoRA adapter folder to start from (continues training it)."
    )
    finetune: Literal["lora", "full"] = Field(
        "lora", description="'lora' trains a peft LoRA adapter; 'full' trains every weight of the model."
    )
    lora: LoRASettings = Field(default_factory=LoRASettings, description="LoRA settings.")

    # --- data --------------------------------------------------------------------------------------
    data: str | None = Field(
        None, description="ecomrel data folder (products/queries/judgments Parquet, splits) to train on."
    )
    split: str = Field("train", description="Split of `data` whose judged pairs are trained on.")
    chains: str | None = Field(
        None,
        description="Parquet of EE/RA chains from the chain builder; built on the fly from `data` if unset.",
    )
    rules: str | None = Field(None, description="Business-rules YAML for RA chains (default rules if unset).")
    chain_config: str | None = Field(
        None,
        description="Chain-builder config YAML (teacher, on_conflict ...) used when chains are built here.",
    )
    examples: str | None = Field(
        None,
        description="A ready prompt/completion file (Parquet or JSONL with 'prompt', 'completion' columns); "
        "when set, it is trained on as one phase and `data`/`chains`/`curriculum` are ignored.",
    )
    train_pairs: str | None = Field(
        None,
        description="Parquet of (query_id, product_id) to train on, e.g. select/selected.parquet from "
        "`ecomrel select`: the split's judged pairs are restricted to it (before max_pairs).",
    )
    max_pairs: int | None = Field(
        None, ge=1, description="Use at most this many judged pairs (seeded sample), to size quick runs."
    )
    balance_grades: bool = Field(
        False,
        description="Sample `max_pairs` with an equal share of each grade (a short run then does not "
        "just learn the majority grade).",
    )
    template: str | None = Field(
        None,
        description="Judge prompt template the examples are rendered with (built-in name or YAML path; "
        "None = judge_v1); the judge must score the tuned model with the same `template`.",
    )
    scale: ScaleSpec = Field("default", description=SCALE_FIELD_DESCRIPTION)

    # --- curriculum --------------------------------------------------------------------------------
    curriculum: Literal["sequential", "mixed", "label_only"] = Field(
        "sequential",
        description="'sequential': one SFT phase per chain kind in `phases` order, each starting from the "
        "previous adapter (LREF); 'mixed': all kinds shuffled into one phase; 'label_only': the ablation "
        "baseline whose target is the grade alone.",
    )
    phases: list[PhaseName] = Field(
        default_factory=lambda: ["ee", "ra", "dr"],
        description="Chain kinds in training order. DR chains come from the model's own mistakes on the "
        "training pairs, scored with the model of the preceding phase (or the start model in 'mixed').",
    )
    dr_source: Literal["model", "both", "random"] = Field(
        "model",
        description="Wrong decisions of DR chains: 'model' = the previous phase's own mistakes (LREF); "
        "'both' = mistakes, plus a random wrong grade where the model was right; 'random' = random only.",
    )
    dr_max_pairs: int | None = Field(
        None, ge=1, description="Score at most this many training pairs when looking for DR mistakes."
    )
    score_batch_size: int = Field(16, ge=1, description="Batch size when scoring pairs for DR mistakes.")

    # --- optimisation ------------------------------------------------------------------------------
    training_args: dict[str, Any] = Field(
        default_factory=dict,
        description="Any trl.SFTConfig field, per phase (num_train_epochs, max_steps, "
        "per_device_train_batch_size, gradient_accumulation_steps, learning_rate, lr_scheduler_type, "
        "lr_scheduler_kwargs, warmup_steps, weight_decay, optim, max_grad_norm, max_length, "
        "activation_checkpointing, save_steps, logging_steps, eval_strategy, report_to ...); defaults: "
        "ecomrel.train.sft_config.TRAINING_DEFAULTS; output_dir, seed and bf16/fp16 are ecomrel's.",
    )
    precision: Precision = Field(
        "auto",
        description="'auto' = bf16 autocast on bf16 GPUs and on CPUs with AVX512-BF16/AMX, fp32 elsewhere.",
    )
    seed: int = Field(0, description="Seed of LoRA init, data order, dropout and the pair sample.")
    num_threads: int | None = Field(
        None, ge=1, description="torch CPU threads (set it on shared machines; unset = torch's default)."
    )

    # --- output / resume ---------------------------------------------------------------------------
    output_dir: str = Field("runs/sft", description="Run folder: phases, checkpoints, adapter, metrics.json.")
    resume: bool = Field(
        True,
        description="Continue a killed run: finished phases are skipped and an unfinished one resumes from "
        "its last checkpoint (same final weights as an uninterrupted run).",
    )

    @field_validator("phases")
    @classmethod
    def _phases_unique(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError("phases must name at least one of ee, ra, dr, rag")
        if len(set(v)) != len(v):
            raise ValueError(f"phases must not repeat a kind: {v}")
        return v

    @field_validator("scale")
    @classmethod
    def _known_scale(cls, v: ScaleSpec) -> ScaleSpec:
        get_scale(v)
        return v

    @field_validator("training_args")
    @classmethod
    def _library_fields(cls, v: dict[str, Any]) -> dict[str, Any]:
        check_training_arg_names(v, "trl", "SFTConfig", OWNED_TRAINING_ARGS)
        return v

    def training_arg(self, name: str) -> Any:
        """The value a phase's ``SFTConfig`` gets for ``name`` (the user's, else ecomrel's default)."""
        return self.training_args.get(name, TRAINING_DEFAULTS.get(name))

    @model_validator(mode="after")
    def _needs_data(self) -> SFTRunConfig:
        if self.examples is None and self.data is None:
            raise ValueError("set either `data` (a data folder) or `examples` (a prompt/completion file)")
        return self

    # --- YAML ----------------------------------------------------------------------------------------
    @classmethod
    def from_yaml(cls, path: str | Path | None = None, overrides: Iterable[str] = ()) -> SFTRunConfig:
        """Load a YAML file (optional) and apply ``key=value`` overrides; errors name the file/key."""
        raw: dict[str, Any] = {}
        if path is not None:
            loaded = read_yaml_mapping(path)
            raw = loaded["sft"] if isinstance(loaded.get("sft"), dict) else loaded
        raw = apply_overrides(raw, overrides)
        return validate_config(cls, raw, path, "SFT")

    def to_yaml(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False))
        return path


DEMO_TRAINING_ARGS: dict[str, Any] = {
    "max_steps": 4,
    "per_device_train_batch_size": 4,
    "learning_rate": 3e-4,
    "max_length": 1024,
    "save_steps": 2,
    "logging_steps": 1,
}
"""The demo's ``training_args`` (a few LoRA steps per phase)."""


def demo_config(
    data: str | Path,
    output_dir: str | Path,
    curriculum: Literal["sequential", "mixed", "label_only"] = "sequential",
    **changes: Any,
) -> SFTRunConfig:
    """SFT sized for the demo on a 2-core CPU (SmolLM2, a few LoRA steps per phase).

    LoRA sits on the last 6 of SmolLM2's 30 layers (``lora.top_layers``): backward stops there,
    which halves a CPU step and its peak memory (``benchmarks/sft_step.py``). ``changes`` override
    any field; ``training_args={...}`` is merged into the demo's :data:`DEMO_TRAINING_ARGS`, and a
    keyword that is no SFTRunConfig field but a ``trl.SFTConfig`` one goes there too (so
    ``demo_config(data, out, max_steps=8)`` and ``training_args={"max_steps": 8}`` are the same).
    """
    base: dict[str, Any] = {
        "base_model": "smollm2",
        "data": str(data),
        "output_dir": str(output_dir),
        "curriculum": curriculum,
        "max_pairs": 48,
        "dr_max_pairs": 32,
        "score_batch_size": 8,
        "lora": {"r": 16, "alpha": 32, "dropout": 0.0, "top_layers": 6},
    }
    changes = dict(changes)
    training = {**DEMO_TRAINING_ARGS, **dict(changes.pop("training_args", None) or {})}
    for key in [k for k in changes if k not in SFTRunConfig.model_fields]:
        training[key] = changes.pop(key)  # unknown to SFTConfig too: the training_args check names it
    base.update(changes)
    base["training_args"] = training
    return SFTRunConfig.model_validate(base)
