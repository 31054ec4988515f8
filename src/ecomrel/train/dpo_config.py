"""Configuration of DPO de-biasing of the LLM judge (LREF §1.5, TaoSR1 §3.4).

:class:`DPORunConfig` holds ecomrel's own fields (which SFT model is the reference, how pairs are
mined, the oracle for all-wrong prompts, α) plus ``training_args``: any field of
``trl.DPOConfig`` (``beta``, ``learning_rate``, ``num_train_epochs``, ``max_steps``,
``per_device_train_batch_size``, ``loss_type`` ...), validated by constructing ``trl.DPOConfig``
itself (:func:`ecomrel.train.common.build_training_args`). YAML with ``--set key=value``
overrides (``--set training_args.beta=0.2``, ``--set pairs=pass_at_n``).

**α.** LREF writes α = 0.65 without saying what it weights (papers.md §1.5). ecomrel reads it,
by default, as the weight of an SFT (NLL) term on the chosen answer beside the DPO term:
``loss = L_DPO(β) + α·L_SFT(y⁺)`` — trl's multi-loss ``loss_type=["sigmoid", "sft"]``,
``loss_weights=[1, α]`` (``alpha_reading: sft_weight``). The other reading, α as the DPO
temperature β (``alpha_reading: beta``), sets ``beta = α`` and no SFT term. Naming
``loss_type``/``loss_weights``/``beta`` in ``training_args`` overrides what α implies.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ecomrel.config import apply_overrides, read_yaml_mapping, validate_config
from ecomrel.train.common import LoRASettings, Precision


class BeamSettings(BaseModel):
    """LREF's beam search over the SFT judge's answers."""

    model_config = ConfigDict(extra="forbid")

    k: int = Field(
        4, ge=2, description="Beams kept per prompt (top-k); the gold grade is looked for in them."
    )
    num_beams: int | None = Field(None, ge=2, description="Beam width searched (default: k).")
    length_penalty: float = Field(1.0, description="transformers' beam length penalty.")


class SamplingSettings(BaseModel):
    """TaoSR1's pass@N sampling of the SFT judge's answers."""

    model_config = ConfigDict(extra="forbid")

    n: int = Field(5, ge=2, description="Samples per prompt (TaoSR1 reports pass@1..5).")
    temperature: float = Field(1.0, gt=0, description="Sampling temperature.")
    top_p: float = Field(1.0, gt=0, le=1, description="Nucleus sampling threshold.")
    seed: int = Field(0, description="Seed of the sampling RNG (forked: no global reseeding).")


class DPORunConfig(BaseModel):
    """Everything one ``ecomrel train dpo`` run needs; echoed to ``<output_dir>/config.yaml``."""

    model_config = ConfigDict(extra="forbid")

    # --- the SFT model (the reference) -------------------------------------------------------------
    base_model: str = Field(
        "smollm2", description="Base model name (ecomrel.llm.models.load_model), local folder or hub id."
    )
    sft_adapter: str | None = Field(
        None,
        description="LoRA adapter of the SFT judge (e.g. runs/x/sft/adapter). The SFT model (base + this "
        "adapter) is the DPO reference. Unset: `base_model` itself is the SFT model (full fine-tune).",
    )
    reference: Literal["adapter_copy", "merge"] = Field(
        "adapter_copy",
        description="How the reference stays the SFT model with peft. 'adapter_copy': DPO keeps training the "
        "SFT adapter while trl holds a frozen copy of it as the 'ref' adapter (the result loads on the base "
        "model like any adapter). 'merge': the SFT adapter is merged into the base weights and a new DPO "
        "adapter (`lora`) is trained on top; the reference is that merged model with adapters disabled.",
    )
    lora: LoRASettings = Field(
        default_factory=LoRASettings,
        description="LoRA of a new DPO adapter ('merge', or no `sft_adapter`); 'adapter_copy' keeps the SFT "
        "adapter's own settings.",
    )

    # --- pairs --------------------------------------------------------------------------------------
    pairs: Literal["beam", "pass_at_n"] = Field(
        "beam", description="'beam': LREF's beam-error pairs; 'pass_at_n': TaoSR1's pass@N (+ oracle) pairs."
    )
    pairs_file: str | None = Field(
        None,
        description="Train on this pair file (Parquet with prompt, chosen, rejected, source, gold_grade) "
        "instead of mining; `data` is then only used for evaluation.",
    )
    data: str | None = Field(
        None, description="ecomrel data folder whose judged pairs are mined (and evaluated)."
    )
    split: str = Field("train", description="Split of `data` whose pairs are mined.")
    max_prompts: int | None = Field(
        None, ge=1, description="Mine at most this many judged pairs (seeded sample), to size quick runs."
    )
    template: str | None = Field(
        None,
        description="Judge prompt template (built-in name such as judge_short, or a YAML file) the SFT judge "
        "was trained with; pairs are mined, trained and scored with it (None: the default judge_v1).",
    )
    scale: Literal["default", "lref"] = Field(
        "default", description="Grade scale: 'default' (4 grades, TaoSR1) or 'lref' (5 grades)."
    )
    beam: BeamSettings = Field(
        default_factory=BeamSettings, description="Beam search settings (pairs: beam)."
    )
    sampling: SamplingSettings = Field(
        default_factory=SamplingSettings, description="pass@N sampling settings (pairs: pass_at_n)."
    )
    max_new_tokens: int = Field(
        64,
        ge=1,
        description="Longest generated answer (label + reasoning); 2 suffices for a label-only judge.",
    )
    generation_batch_size: int = Field(8, ge=1, description="Prompts per generate() call.")
    generation: Literal["generate", "grade_tokens"] = Field(
        "generate",
        description="'generate': beams / samples are full generated answers (transformers generate). "
        "'grade_tokens': for a label-first judge answering with the label alone, the answers are restricted "
        "to the grade labels and read from one forward pass: the top-k beams are the k most probable grade "
        "tokens, the N samples are drawn from the grade distribution at `sampling.temperature` (k, resp. N, "
        "times cheaper than generate, and never malformed).",
    )
    answer_text: Literal["generated", "label"] = Field(
        "generated",
        description="'generated': chosen/rejected are the generated answers as they are; 'label': they are "
        "rewritten as the grade label alone (a label-only SFT judge; a malformed rejected answer is kept).",
    )
    oracle: Literal["chain", "label"] = Field(
        "chain",
        description="Chosen answer when all N samples are wrong: 'chain' = an EE chain written for the gold "
        "grade by the chain builder's teacher (builtin analyst or an OpenAI-compatible endpoint, see "
        "`chain_config`); 'label' = the gold grade label alone.",
    )
    chain_config: str | None = Field(
        None, description="Chain-builder YAML (teacher: builtin | openai endpoint) used for oracle chains."
    )

    # --- loss ---------------------------------------------------------------------------------------
    alpha: float = Field(
        0.65,
        ge=0,
        description="LREF's α (0.65). With alpha_reading 'sft_weight': weight of the SFT (NLL) "
        "term on the chosen answer (0 = plain DPO); with 'beta': the DPO β.",
    )
    alpha_reading: Literal["sft_weight", "beta"] = Field(
        "sft_weight", description="What α weights (LREF does not say): an SFT term beside DPO, or β itself."
    )
    training_args: dict[str, Any] = Field(
        default_factory=dict,
        description="Any trl.DPOConfig field (beta, learning_rate, num_train_epochs, max_steps, "
        "per_device_train_batch_size, loss_type ...); output_dir and bf16/fp16 are set by ecomrel.",
    )
    precision: Precision = Field(
        "auto", description="'auto' = bf16 autocast on bf16 GPUs and AVX512-BF16/AMX CPUs, fp32 elsewhere."
    )

    # --- evaluation ----------------------------------------------------------------------------------
    eval_split: str | None = Field(
        "dev", description="Split of `data` scored before (SFT) and after DPO; None = no evaluation."
    )
    eval_max_pairs: int | None = Field(
        None, ge=1, description="Evaluate on at most this many pairs (seeded)."
    )
    score_batch_size: int = Field(16, ge=1, description="Batch size of the grade scorer in evaluation.")

    # --- run ----------------------------------------------------------------------------------------
    output_dir: str = Field(
        "runs/dpo", description="Run folder: pairs.parquet, trainer/ checkpoints, adapter/, metrics.json."
    )
    seed: int = Field(0, description="Seed of the pair samples, LoRA init and data order.")
    num_threads: int | None = Field(None, ge=1, description="torch CPU threads (unset: ECOMREL_THREADS).")
    resume: bool = Field(
        True,
        description="Reuse mined pairs and continue from the last complete checkpoint; a finished run "
        "(metrics.json) is returned as is. False clears what an earlier run wrote.",
    )

    @model_validator(mode="after")
    def _needs_pairs(self) -> DPORunConfig:
        if self.pairs_file is None and self.data is None:
            raise ValueError("set either `data` (a data folder to mine pairs from) or `pairs_file`")
        if self.reference == "merge" and self.sft_adapter is None:
            raise ValueError("reference: merge needs `sft_adapter` (there is nothing to merge)")
        return self

    def loss_args(self) -> dict[str, Any]:
        """The DPOConfig fields α implies (see the module docstring)."""
        if self.alpha_reading == "beta":
            return {"beta": self.alpha, "loss_type": ["sigmoid"]}
        if self.alpha == 0:
            return {"loss_type": ["sigmoid"]}
        return {"loss_type": ["sigmoid", "sft"], "loss_weights": [1.0, self.alpha]}

    # --- YAML ----------------------------------------------------------------------------------------
    @classmethod
    def from_yaml(cls, path: str | Path | None = None, overrides: Iterable[str] = ()) -> DPORunConfig:
        """Load a YAML file (optional; a top-level ``dpo:`` key is accepted) and apply ``key=value``."""
        raw: dict[str, Any] = {}
        if path is not None:
            loaded = read_yaml_mapping(path)
            raw = loaded["dpo"] if isinstance(loaded.get("dpo"), dict) else loaded
        raw = apply_overrides(raw, overrides)
        return validate_config(cls, raw, path, "DPO")

    def to_yaml(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False))
        return path


def demo_config(
    data: str | Path, output_dir: str | Path, sft_adapter: str | Path | None, **changes: Any
) -> DPORunConfig:
    """DPO sized for the demo on a 2-core CPU: SmolLM2, beam pairs on a few dozen label-only answers,
    a few LoRA steps (the reference is the demo's SFT adapter). ``changes`` override any field."""
    base: dict[str, Any] = {
        "base_model": "smollm2",
        "sft_adapter": str(sft_adapter) if sft_adapter is not None else None,
        "data": str(data),
        "output_dir": str(output_dir),
        "pairs": "beam",
        "max_prompts": 24,
        "beam": {"k": 4},
        "max_new_tokens": 2,
        "answer_text": "label",
        "oracle": "label",
        "eval_split": None,
        "training_args": {
            "max_steps": 4,
            "per_device_train_batch_size": 4,
            "learning_rate": 2e-4,
            "logging_steps": 1,
        },
    }
    base.update(changes)
    return DPORunConfig.model_validate(base)
