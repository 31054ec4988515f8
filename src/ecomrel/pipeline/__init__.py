"""The pipeline: a registry of stages, each a module with its own options model, and a runner.

``run_pipeline(config)`` validates every stage's options, then runs or skips each configured stage
by fingerprint (see :mod:`ecomrel.pipeline.runner`); stages live in :mod:`ecomrel.pipeline.stages`,
one module per stage, and register themselves with :func:`ecomrel.pipeline.registry.stage`.
"""

from ecomrel.pipeline.registry import STAGES, StageContext, StageOptions, stage
from ecomrel.pipeline.runner import console, is_done, metrics_path, run_pipeline, validate_run

__all__ = [
    "STAGES",
    "StageContext",
    "StageOptions",
    "console",
    "is_done",
    "metrics_path",
    "run_pipeline",
    "stage",
    "validate_run",
]
