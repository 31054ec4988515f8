"""Checking a config's ``training_args`` names against the library's arguments class at config time.

:func:`ecomrel.train.common.build_training_args` constructs the class when a run starts; this
check only reads the dataclass field names, so a typo in ``training_args`` (or in a pipeline's
stage options) is a one-line error while the config is validated, before any stage runs.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
from collections.abc import Iterable


@functools.cache
def library_fields(module: str, name: str) -> frozenset[str] | None:
    """Field names of the dataclass ``module.name``; ``None`` when the library is not installed."""
    try:
        cls = getattr(importlib.import_module(module), name)
    except ImportError:
        return None
    return frozenset(f.name for f in dataclasses.fields(cls))


def check_training_arg_names(names: Iterable[str], module: str, name: str, owned: Iterable[str]) -> None:
    """Raise ``ValueError`` (pydantic turns it into the config's one-line error) for an unknown
    field of ``module.name`` or one ecomrel sets itself."""
    names = set(names)
    clash = sorted(names & set(owned))
    if clash:
        raise ValueError(f"{', '.join(clash)} is set by ecomrel itself; use the config's own field")
    known = library_fields(module, name)
    if known is None:
        return
    unknown = sorted(names - known)
    if unknown:
        raise ValueError(f"unknown field(s) {', '.join(unknown)} for {module}.{name}")
