"""Pieces every trainer shares: precision, library training arguments, LoRA, progress, checkpoints.

Trainer configs follow trl's pattern: ecomrel's own fields plus a ``training_args`` mapping that
is validated by constructing the library's own arguments class (``trl.SFTConfig``,
``trl.DPOConfig``, ``trl.GRPOConfig``, sentence-transformers' ``CrossEncoderTrainingArguments``),
so any field the library has can be set from YAML or ``--set training_args.<field>=value``.
:func:`build_training_args` merges ecomrel's defaults, the user's mapping and the fields ecomrel
must own (output folder, precision), and turns a bad key or value into a one-line
:class:`~ecomrel.errors.ConfigError`.
"""

from __future__ import annotations

import functools
import logging
import resource
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ecomrel.errors import ConfigError

log = logging.getLogger(__name__)

Precision = Literal["auto", "fp32", "bf16", "fp16"]


# --- precision -------------------------------------------------------------------------------------
@functools.cache
def cpu_supports_bf16() -> bool:
    """True when this CPU has native bfloat16 arithmetic (AVX512-BF16 or AMX), read at run time.

    ``ECOMREL_CPU_BF16=0/1`` overrides the detection (used to simulate a CPU without it); the rule
    is :func:`ecomrel.hardware.cpu_bf16`, which export and serve use too.
    """
    from ecomrel.hardware import cpu_bf16

    return cpu_bf16()


def resolve_precision(
    precision: Precision = "auto", device: str | None = None
) -> Literal["fp32", "bf16", "fp16"]:
    """The precision a run actually uses.

    ``auto``: bf16 on a CUDA device that supports it and on CPUs with AVX512-BF16/AMX
    (:func:`cpu_supports_bf16`), fp32 elsewhere. An explicit choice is kept as given.
    """
    if precision != "auto":
        return precision
    import torch

    on_cuda = device == "cuda" or (device is None and torch.cuda.is_available())
    if on_cuda:
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    return "bf16" if cpu_supports_bf16() else "fp32"


def precision_flags(precision: Precision = "auto", device: str | None = None) -> dict[str, bool]:
    """``{"bf16": ..., "fp16": ...}`` for a transformers ``TrainingArguments``.

    On a CPU, transformers' ``bf16=True`` trains under ``torch.autocast("cpu", bfloat16)``.
    """
    resolved = resolve_precision(precision, device)
    return {"bf16": resolved == "bf16", "fp16": resolved == "fp16"}


# --- library training arguments --------------------------------------------------------------------
def build_training_args(
    cls: type,
    defaults: Mapping[str, Any],
    user: Mapping[str, Any] | None,
    owned: Mapping[str, Any],
    what: str = "training_args",
):
    """Construct ``cls(**{**defaults, **user, **owned})``; one-line ``ConfigError`` on a bad field.

    ``defaults`` are ecomrel's choices (a user's value replaces them); ``owned`` are fields ecomrel
    sets itself (output folder, precision, ...) and a user may not: naming one is an error.
    """
    import dataclasses

    user = dict(user or {})
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(k for k in user if k not in known)
    if unknown:
        raise ConfigError(
            f"{what}: unknown field(s) {', '.join(unknown)} for {cls.__name__} "
            f"(any field of {cls.__module__}.{cls.__name__} may be set)"
        )
    clash = sorted(k for k in user if k in owned)
    if clash:
        raise ConfigError(f"{what}: {', '.join(clash)} is set by ecomrel itself; use the config's own field")
    kwargs = {**dict(defaults), **user, **dict(owned)}
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{what}: {cls.__name__} rejected the arguments: {exc}") from None


# --- LoRA ------------------------------------------------------------------------------------------
class LoRASettings(BaseModel):
    """peft LoRA hyper-parameters (ignored when a trainer fine-tunes every weight)."""

    model_config = ConfigDict(extra="forbid")

    r: int = Field(16, ge=1, description="LoRA rank.")
    alpha: int = Field(32, ge=1, description="LoRA scaling numerator (scale = alpha / r).")
    dropout: float = Field(0.05, ge=0.0, lt=1.0, description="Dropout on the LoRA branch.")
    target_modules: list[str] | str = Field(
        "all-linear",
        description="Module names that get adapters, or 'all-linear' (every linear layer but the LM head).",
    )
    top_layers: int | None = Field(
        None,
        ge=1,
        description="Adapt only the last N decoder layers: backward then stops there, so a CPU step costs "
        "far less (None = every layer).",
    )


def _linear_leaf_names(model) -> list[str]:
    """Leaf names of the linear layers peft's 'all-linear' would adapt (the LM head excluded)."""
    import torch

    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    names = {
        name.rsplit(".", 1)[-1]
        for name, mod in model.named_modules()
        if isinstance(mod, torch.nn.Linear) and mod is not head and name
    }
    return sorted(names)


def lora_config(settings: LoRASettings, model=None):
    """peft ``LoraConfig``; with ``top_layers`` only the last decoder layers get adapters."""
    from peft import LoraConfig

    targets = settings.target_modules
    layers = None
    if settings.top_layers is not None:
        if model is None:
            raise ValueError("lora.top_layers needs the model to count its layers")
        n = int(model.config.get_text_config().num_hidden_layers)
        layers = list(range(max(0, n - settings.top_layers), n))
        if isinstance(targets, str):  # peft takes a layer subset only with explicit module names
            targets = _linear_leaf_names(model) if targets == "all-linear" else [targets]
    return LoraConfig(
        r=settings.r,
        lora_alpha=settings.alpha,
        lora_dropout=settings.dropout,
        target_modules=targets,
        layers_to_transform=layers,
        task_type="CAUSAL_LM",
    )


# --- checkpoints, progress, memory -----------------------------------------------------------------
def latest_complete_checkpoint(folder: str | Path) -> Path | None:
    """The newest ``checkpoint-N`` that holds trainer state and weights (a kill mid-save is skipped).

    The one rule every trainer uses to resume.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return None
    found = []
    for p in folder.glob("checkpoint-*"):
        suffix = p.name.split("-", 1)[1]
        if p.is_dir() and suffix.isdigit():
            found.append((int(suffix), p))
    for _, p in sorted(found, reverse=True):
        has_weights = any(
            (p / f).exists() for f in ("adapter_model.safetensors", "model.safetensors")
        ) or any(p.glob("model-*.safetensors"))
        if (p / "trainer_state.json").exists() and has_weights:
            return p
    return None


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def rich_progress_callback(description: str, keys: tuple[str, ...] = ("loss",)):
    """A trainer callback that draws one ecomrel progress bar with the latest logged ``keys``."""
    from transformers import TrainerCallback

    from ecomrel.progress import make_progress

    class RichProgress(TrainerCallback):
        def __init__(self) -> None:
            self.progress = None
            self.task = None
            self.text = ""

        def on_train_begin(self, args, state, control, **kw):
            if state.is_world_process_zero:
                self.progress = make_progress("steps")
                self.progress.start()
                self.task = self.progress.add_task(description, total=state.max_steps, rate="")
                self.progress.update(self.task, completed=state.global_step)

        def on_step_end(self, args, state, control, **kw):
            if self.progress is not None:
                self.progress.update(self.task, completed=state.global_step, rate=self.text)

        def on_log(self, args, state, control, logs=None, **kw):
            if not logs:
                return
            shown = [f"{k} {float(logs[k]):.4f}" for k in keys if isinstance(logs.get(k), int | float)]
            if shown:
                self.text = " ".join(shown)
            log.info("step %d: %s", state.global_step, {k: v for k, v in logs.items() if k != "total_flos"})

        def on_train_end(self, args, state, control, **kw):
            if self.progress is not None:
                self.progress.stop()
                self.progress = None

    return RichProgress()
