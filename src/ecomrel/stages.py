"""The pipeline's stages: each a thin function from the run config to files and metrics.

A stage reads what earlier stages wrote in the run folder and calls one module's public
function; it holds no method logic of its own.
"""

from __future__ import annotations

from pathlib import Path

from ecomrel.data.schema import DataError, Dataset
from ecomrel.pipeline import RunContext, console, stage


@stage("data")
def data_stage(ctx: RunContext) -> dict[str, dict[str, float]]:
    """Build the run's data folder: the built-in sample, a real source, or an existing folder."""
    from ecomrel.data.splits import split_by_query

    opts = ctx.config.data
    out = ctx.data_dir
    if opts.source == "sample":
        from ecomrel.data.sample import generate_sample

        ds = generate_sample(
            n_products=opts.sample.products, n_queries=opts.sample.queries, seed=ctx.config.seed, noise=opts.sample.noise
        )
    elif opts.source == "folder":
        if opts.path is None:
            raise DataError("data.path is required for source 'folder'")
        ds = Dataset.load(opts.path)
    else:
        from ecomrel.data.sources import import_source

        if opts.path is None:
            raise DataError(f"data.path is required for source {opts.source!r}")
        mapping = None
        if opts.mapping is not None:
            import yaml

            mapping = yaml.safe_load(Path(opts.mapping).read_text())
        import_source(opts.source, opts.path, out, mapping=mapping)
        ds = Dataset.load(out)
    if ds.splits is None:
        ds.splits = split_by_query(ds.queries, fractions=opts.split, seed=ctx.config.seed)
    ds.save(out)
    counts = ds.splits["split"].value_counts().to_dict()
    console.print(
        f"data: {len(ds.products):,} products, {len(ds.queries):,} queries, {len(ds.judgments):,} judgments; "
        + ", ".join(f"{k} {v:,} queries" for k, v in sorted(counts.items()))
    )
    return {}


@stage("baselines")
def baselines_stage(ctx: RunContext) -> dict[str, dict[str, float]]:
    """BM25 and TF-IDF rankers, grade cut points tuned on dev, scored on test."""
    from ecomrel.baselines import run_baseline

    rows = {}
    for method in ctx.options.get("methods", ["bm25", "tfidf"]):
        result = run_baseline(method, ctx.data_dir, ctx.stage_dir, tune_split="dev", eval_split="test")
        rows[method] = result["metrics"]
    return rows

