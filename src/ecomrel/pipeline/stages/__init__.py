"""The built-in stages, one module each; importing this package registers them.

A full run uses them in :data:`PIPELINE_ORDER`. A new stage is a new module in this package that
calls :func:`ecomrel.pipeline.registry.stage`; nothing else needs to change.
"""

import importlib
import pkgutil

PIPELINE_ORDER = (
    "data",
    "baselines",
    "judge",
    "select",
    "sft",
    "dpo",
    "grpo",
    "distill",
    "export",
    "serve",
    "rank",
)

for _module in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
    if _module.name != "common":
        importlib.import_module(f"{__name__}.{_module.name}")
