"""The run config: one YAML file per run, validated by pydantic and echoed into the run folder.

Example (``examples/pipeline.yaml``)::

    out: runs/sample
    seed: 0
    data:
      source: sample            # sample | esci | wands | homedepot | csv | folder
      sample: {products: 2400, queries: 500, noise: 0.1}
    stages: [data, baselines, judge]
    options:
      judge: {model: smollm2, limit: 240}

Any field can be overridden on the command line with ``--set key.sub=value`` (values are
parsed as YAML, so ``--set options.judge.limit=100`` gives an int).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

from ecomrel.errors import ConfigError


class SampleOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    products: int = Field(2400, ge=50, description="Number of products in the generated catalogue.")
    queries: int = Field(500, ge=10, description="Number of queries.")
    noise: float = Field(0.1, ge=0.0, le=1.0, description="Share of judgments flipped as annotator noise.")


class DataOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    source: Literal["sample", "esci", "wands", "homedepot", "csv", "folder"] = Field(
        "sample",
        description="Where the data comes from: the built-in sample, a real source, or a data folder.",
    )
    path: Path | None = Field(None, description="Input file/folder for real sources and 'folder'.")
    mapping: Path | None = Field(None, description="Column/label mapping YAML for the generic csv source.")
    sample: SampleOptions = Field(default_factory=SampleOptions, description="Built-in sample settings.")
    split: dict[str, float] = Field(
        default_factory=lambda: {"train": 0.7, "dev": 0.15, "test": 0.15},
        description="Query-disjoint split fractions (not used with `files`).",
    )
    files: dict[Literal["train", "dev", "test"], Path] | None = Field(
        None,
        description="Instead of `path`: one file per split, each imported as that split "
        "(`ecomrel data import --split`); queries must not be shared between the files.",
    )
    dev: float | None = Field(
        None, gt=0, lt=1, description="With `files`: share of the train file's queries used as dev (seeded)."
    )
    on_product_conflict: Literal["keep", "reject"] = Field(
        "keep",
        description="With `files`: a product id another file holds with another text is kept per judgment "
        "(suffixed id) or its judgments rejected.",
    )


class PipelineConfig(BaseModel):
    """A whole run: where it writes, which data, which stages, and each stage's own options."""

    model_config = ConfigDict(extra="forbid")
    out: Path = Field(Path("runs/demo"), description="Run folder; every stage writes a sub-folder of it.")
    seed: int = Field(0, description="Seed for splits, sampling and training.")
    data: DataOptions = Field(default_factory=DataOptions, description="Input data.")
    stages: list[str] = Field(
        default_factory=lambda: ["data", "baselines"],
        description="Stages to run, in order; completed stages are skipped unless forced.",
    )
    options: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Per-stage options (``options.<stage>``), each validated by the stage's own options "
        "model before any stage runs; ``options.eval`` configures evaluation for every stage.",
    )
    _source: Path | None = PrivateAttr(None)

    @property
    def source(self) -> Path | None:
        """The YAML file this config was read from (named in error messages), if any."""
        return self._source


def apply_overrides(raw: dict[str, Any], overrides: Iterable[str]) -> dict[str, Any]:
    """A copy of ``raw`` with ``a.b.c=value`` overrides applied (values parsed as YAML).

    Every config that takes ``--set`` uses this one parser, so overrides behave the same in
    ``ecomrel run``, ``ecomrel train sft`` and the rest.
    """
    out = copy.deepcopy(raw)
    for item in overrides:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"override {item!r}: expected key=value (dotted keys reach nested fields)")
        try:
            parsed = yaml.safe_load(value) if value.strip() else None
        except yaml.YAMLError:
            parsed = value  # not YAML: keep the text as given
        node = out
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {item!r}: {part!r} is not a section")
        node[parts[-1]] = parsed
    return out


def read_yaml_mapping(path: str | Path) -> dict[str, Any]:
    """The top-level mapping of a YAML config file; a ``ConfigError`` naming the file otherwise."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping")
    return raw


def validation_problems(exc: ValidationError) -> str:
    """Pydantic errors as ``field.path: message; ...`` for one-line messages."""
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'config'}: {e['msg']}" for e in exc.errors())


M = TypeVar("M", bound=BaseModel)


def validate_config(model: type[M], raw: Any, path: str | Path | None = None, what: str = "") -> M:
    """``model.model_validate(raw)``; a one-line ``ConfigError`` naming the file and the fields otherwise."""
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        where = f"{path}: " if path else ""
        kind = f"{what} config" if what else "config"
        raise ConfigError(f"{where}invalid {kind}: {validation_problems(exc)}") from None


def load_config(path: str | Path | None, overrides: list[str] | None = None) -> PipelineConfig:
    """Read a YAML run config (or defaults when ``path`` is None), apply overrides, validate."""
    raw = read_yaml_mapping(path) if path is not None else {}
    config = validate_config(PipelineConfig, apply_overrides(raw, overrides or []), path)
    config._source = Path(path) if path is not None else None
    return config
