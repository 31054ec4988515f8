"""Stage ``data``: the run's data folder from the built-in sample, a real source or a folder."""

from __future__ import annotations

from pathlib import Path

from ecomrel.data.schema import Dataset
from ecomrel.errors import ConfigError
from ecomrel.pipeline.registry import StageContext, console, stage


@stage(
    "data",
    reads=(),
    globals=("seed", "data"),
    summary="Products, queries, graded judgments and engagement as Parquet, split by query",
)
def data_stage(ctx: StageContext) -> dict[str, dict[str, float]]:
    """Build the run's data folder: the built-in sample, a real source, or an existing folder."""
    from ecomrel.data.splits import split_by_query

    opts = ctx.config.data
    out = ctx.data_dir
    if opts.source == "sample":
        from ecomrel.data.sample import generate_sample

        ds = generate_sample(
            n_products=opts.sample.products,
            n_queries=opts.sample.queries,
            seed=ctx.seed,
            noise=opts.sample.noise,
        )
    elif opts.source == "folder":
        if opts.path is None:
            raise ConfigError("data.path is required for source 'folder'")
        ds = Dataset.load(opts.path)
    else:
        from ecomrel.config import read_yaml_mapping
        from ecomrel.data.sources import import_source

        if opts.path is None:
            raise ConfigError(f"data.path is required for source {opts.source!r}")
        mapping = read_yaml_mapping(opts.mapping) if opts.mapping is not None else None
        import_source(opts.source, Path(opts.path), out, mapping=mapping)
        ds = Dataset.load(out)
    if ds.splits is None:
        ds.splits = split_by_query(ds.queries, fractions=opts.split, seed=ctx.seed)
    ds.save(out)
    counts = ds.splits["split"].value_counts().to_dict()
    console.print(
        f"data: {len(ds.products):,} products, {len(ds.queries):,} queries, {len(ds.judgments):,} judgments; "
        + ", ".join(f"{k} {v:,} queries" for k, v in sorted(counts.items()))
    )
    return {}
