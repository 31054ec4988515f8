"""The stage registry: every pipeline stage declares its name, options model and inputs here.

A stage is a function from a :class:`StageContext` to metric rows ``{row name: {metric: value}}``,
registered with :func:`stage`::

    from pydantic import Field

    from ecomrel.pipeline.registry import StageContext, StageOptions, stage

    class SelectOptions(StageOptions):
        keep_ratio: float = Field(0.3, gt=0, le=1, description="Share of training pairs kept.")

    @stage("select", options=SelectOptions, reads=("data",),
           summary="LREF data selection: keep hard, learnable, clean pairs")
    def select_stage(ctx: StageContext) -> dict[str, dict[str, float]]:
        opts: SelectOptions = ctx.options
        ...  # read ctx.data_dir, write under ctx.stage_dir
        return {"select": {"kept": 123}}

``options`` validates ``options.<name>`` of the run config before any stage runs (unknown keys
are errors); ``reads`` names the stages whose outputs this one reads: their completion ids are
part of this stage's fingerprint, so re-running an upstream stage re-runs this one too. A stage
records the prediction file behind each metrics row with
:func:`ecomrel.eval.record_predictions`; the report draws confusion matrices and reliability
diagrams from them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict
from rich.console import Console

from ecomrel.config import PipelineConfig

Rows = dict[str, dict[str, float]]

console = Console()
"""The console every stage and the runner print to."""


class StageOptions(BaseModel):
    """Base of every stage's options model: unknown keys are errors.

    A stage whose options pass a block through to a module's own config (the judge, a trainer)
    overrides :meth:`check` to validate that block too; the runner calls it before any stage runs.
    """

    model_config = ConfigDict(extra="forbid")

    def check(self) -> None:
        """Validate nested blocks; raise :class:`ecomrel.errors.ConfigError` naming the key."""


class NoOptions(StageOptions):
    """A stage without options of its own."""


@dataclass
class StageContext:
    """What a stage sees: the run config, its run folder, its validated options."""

    config: PipelineConfig
    name: str
    options: Any

    @property
    def out(self) -> Path:
        return Path(self.config.out)

    @property
    def data_dir(self) -> Path:
        return self.out / "data"

    @property
    def stage_dir(self) -> Path:
        return self.out / self.name

    @property
    def seed(self) -> int:
        return self.config.seed

    def path_of(self, stage: str, *parts: str) -> Path:
        """A path inside another stage's folder of this run."""
        return self.out.joinpath(stage, *parts)


StageFn = Callable[[StageContext], Rows]


@dataclass(frozen=True)
class Stage:
    name: str
    fn: StageFn
    options: type[StageOptions]
    reads: tuple[str, ...]
    summary: str
    globals: tuple[str, ...]


STAGES: dict[str, Stage] = {}


def stage(
    name: str,
    *,
    options: type[StageOptions] = NoOptions,
    reads: tuple[str, ...] = ("data",),
    summary: str = "",
    globals: tuple[str, ...] = ("seed",),
) -> Callable[[StageFn], StageFn]:
    """Register a stage function under ``name``.

    ``globals`` names top-level run-config fields (``seed``, ``data``) that are part of the
    stage's fingerprint besides its own options.
    """

    def deco(fn: StageFn) -> StageFn:
        STAGES[name] = Stage(
            name=name,
            fn=fn,
            options=options,
            reads=tuple(r for r in reads if r != name),
            summary=summary or (fn.__doc__ or "").strip().splitlines()[0] if (summary or fn.__doc__) else "",
            globals=globals,
        )
        return fn

    return deco
