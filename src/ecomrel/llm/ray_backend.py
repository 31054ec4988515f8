"""Batch judging across nodes with Ray Data (extra ``[ray]``): the same batch function, in actors.

Each actor of a pool loads the judge once, then Ray Data's ``map_batches`` feeds it pandas
batches of pairs; the actor calls :func:`ecomrel.llm.scorer.score_pairs`, the function the
single-machine path uses. Rows arrive sorted by query, so most batches hold whole queries
and keep the benefit of query-prefix sharing.

Product ``attributes`` (a map) travel as JSON text: Arrow would otherwise turn a column of
dicts with different keys into one wide struct.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from ecomrel.errors import MissingDependencyError
from ecomrel.grades import DEFAULT_SCALE, GradeScale
from ecomrel.llm.judge_config import JudgeConfig

PASS_THROUGH = ("_chunk",)
PAIR_COLUMNS = (
    "query_id",
    "product_id",
    "query",
    "title",
    "brand",
    "category",
    "attributes",
    "description",
    "price",
)


def ray_available() -> tuple[bool, str]:
    try:
        import ray  # noqa: F401
        import ray.data  # noqa: F401
    except ImportError:
        return False, "ray[data] is not installed (pip install 'ecomrel[ray]')"
    return True, ""


def _to_wire(pairs: pd.DataFrame) -> pd.DataFrame:
    cols = [c for c in (*PAIR_COLUMNS, *PASS_THROUGH) if c in pairs.columns]
    df = pairs[cols].copy()
    if "attributes" in df.columns:
        df["attributes"] = [
            json.dumps(dict(a) if a is not None else {}) if not isinstance(a, float) else "{}"
            for a in df["attributes"]
        ]
    return df.reset_index(drop=True)


class ScoreBatch:
    """Ray actor: holds a loaded judge, scores one pandas batch per call."""

    def __init__(
        self,
        model: str,
        adapter: str | None = None,
        template: str = "judge_v1",
        batch_size: int = 16,
        share_prefix: bool = True,
        padding_side: str = "right",
        threads: int | None = 1,
        dtype: str = "float32",
        scale_names: tuple[str, ...] | None = None,
        scale_descriptions: tuple[str, ...] = (),
    ) -> None:
        import torch

        from ecomrel.grades import GradeScale
        from ecomrel.llm.models import load_model

        self.model, self.tokenizer = load_model(
            model, adapter, dtype=getattr(torch, dtype), threads=threads, merge_adapter=True
        )
        self.kw = dict(
            batch_size=batch_size, share_prefix=share_prefix, template=template, padding_side=padding_side
        )
        self.scale = (
            GradeScale(names=tuple(scale_names), descriptions=tuple(scale_descriptions))
            if scale_names
            else DEFAULT_SCALE
        )

    def __call__(self, batch: pd.DataFrame) -> pd.DataFrame:
        from ecomrel.llm.scorer import score_pairs

        batch = batch.copy()
        if "attributes" in batch.columns:
            batch["attributes"] = [json.loads(a) if isinstance(a, str) else {} for a in batch["attributes"]]
        scored = score_pairs(self.model, self.tokenizer, batch, scale=self.scale, **self.kw)
        for c in PASS_THROUGH:
            if c in batch.columns:
                scored[c] = batch[c].to_numpy()
        return scored.reset_index(drop=True)


def _ensure_ray(address: str | None, num_cpus: int | None) -> None:
    import ray

    if not ray.is_initialized():
        kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
        if address:
            kwargs["address"] = address
        elif num_cpus:
            kwargs["num_cpus"] = num_cpus
        ray.init(**kwargs)


def score_stream(
    pairs: pd.DataFrame,
    config: JudgeConfig,
    scale: GradeScale = DEFAULT_SCALE,
    rows_per_batch: int | None = None,
) -> Iterator[pd.DataFrame]:
    """Score ``pairs`` in a Ray actor pool, yielding scored pandas batches as they finish."""
    ok, why = ray_available()
    if not ok:
        raise MissingDependencyError(why)
    import ray.data

    _ensure_ray(config.ray_address, config.ray_num_cpus)
    ds = ray.data.from_pandas(_to_wire(pairs))
    ds = ds.map_batches(
        ScoreBatch,
        fn_constructor_kwargs=dict(
            model=config.model if not Path(config.model).is_dir() else str(Path(config.model).resolve()),
            adapter=str(Path(config.adapter).resolve()) if config.adapter else None,
            template=config.template,
            batch_size=config.batch_size,
            share_prefix=config.share_prefix,
            padding_side=config.padding_side,
            threads=config.threads or 1,
            dtype=config.dtype,
            scale_names=tuple(scale.names),
            scale_descriptions=tuple(scale.descriptions),
        ),
        batch_size=rows_per_batch or max(config.batch_size * 4, config.chunk_size),
        batch_format="pandas",
        compute=ray.data.ActorPoolStrategy(size=config.ray_concurrency),
        num_cpus=1,
    )
    yield from ds.iter_batches(batch_format="pandas", batch_size=None)


def score_with_ray(
    pairs: pd.DataFrame,
    model: str,
    adapter: str | None = None,
    batch_size: int = 16,
    share_prefix: bool = True,
    num_cpus: int | None = None,
    concurrency: int = 1,
    address: str | None = None,
    threads: int = 1,
    rows_per_batch: int | None = None,
) -> pd.DataFrame:
    """Score a pairs frame with Ray Data; rows come back in input order (same columns as ``score_pairs``)."""
    config = JudgeConfig(
        model=model,
        adapter=adapter,
        data=Path("."),
        out=Path("."),
        batch_size=batch_size,
        share_prefix=share_prefix,
        ray_num_cpus=num_cpus,
        ray_concurrency=concurrency,
        ray_address=address,
        threads=threads,
        backend="ray",
    )
    tagged = pairs.reset_index(drop=True).assign(_chunk=range(len(pairs)))
    parts = list(score_stream(tagged, config, rows_per_batch=rows_per_batch))
    out = pd.concat(parts, ignore_index=True).sort_values("_chunk").drop(columns="_chunk")
    out.index = pairs.index
    return out
