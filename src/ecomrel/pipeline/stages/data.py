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
    if opts.files and opts.source in ("sample", "folder"):
        raise ConfigError(
            f"data.files needs a real source (homedepot, esci, wands, csv), not {opts.source!r}"
        )
    if opts.source == "sample":
        from ecomrel.data.sample import generate_sample

        ds = generate_sample(
            n_products=opts.sample.products,
            n_queries=opts.sample.queries,
            seed=ctx.seed,
            noise=opts.sample.noise,
        )
    elif opts.files:
        from ecomrel.config import read_yaml_mapping
        from ecomrel.data.sources import import_source

        for stale in [*out.glob("*.parquet"), out / "imports.json"]:  # this stage owns the folder
            stale.unlink(missing_ok=True)
        mapping = read_yaml_mapping(opts.mapping) if opts.mapping is not None else None
        for split_name in sorted(opts.files, key=["train", "dev", "test"].index):
            report = import_source(
                opts.source,
                Path(opts.files[split_name]),
                out,
                mapping=mapping,
                split=split_name,
                dev=opts.dev if split_name == "train" else None,
                seed=ctx.seed,
                on_product_conflict=opts.on_product_conflict,
            )
            for line in report.iter_lines():
                console.print(f"data: {split_name}: {line}", markup=False)
        ds = Dataset.load(out)
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
