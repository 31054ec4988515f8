"""``ecomrel data ...``: import real data, generate the sample catalogue, split by query."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from ecomrel.cli.common import check_out_path, friendly_errors

app = typer.Typer(help="Import, generate and split data folders.", no_args_is_help=True)
console = Console()


# --- sample -------------------------------------------------------------------------------------


def _sample_table(summary: dict) -> Table:
    from ecomrel.grades import DEFAULT_SCALE

    table = Table(title=f"sample catalogue → {summary['path']}", show_header=True)
    table.add_column("what")
    table.add_column("count", justify="right")
    table.add_row("products", f"{summary['products']:,}")
    table.add_row("categories", f"{summary['categories']:,}")
    table.add_row("brands", f"{summary['brands']:,}")
    table.add_row("queries", f"{summary['queries']:,}")
    for kind, n in summary["queries_by_kind"].items():
        table.add_row(f"  kind: {kind}", f"{n:,}")
    table.add_row("judgments", f"{summary['judgments']:,}")
    true = summary.get("true_by_grade", {})
    for g, n in summary["judgments_by_grade"].items():
        extra = f" (true {true.get(g, 0):,})" if true else ""
        table.add_row(f"  grade {g} {DEFAULT_SCALE.name(g)}", f"{n:,}{extra}")
    if "noise_flips" in summary:
        share = summary["noise_flips"] / max(1, summary["judgments"])
        table.add_row("noise flips", f"{summary['noise_flips']:,} ({share:.1%})")
    for split, n in sorted(summary.get("splits", {}).items()):
        table.add_row(f"  split: {split}", f"{n:,} queries")
    for k, v in summary.get("engagement", {}).items():
        table.add_row(k.replace("_", " "), f"{v:,}")
    return table


@app.command("sample")
@friendly_errors
def sample(
    out: Path = typer.Option(..., "--out", "-o", help="Folder to write the data folder into."),
    seed: int = typer.Option(0, help="Random seed: same seed, same catalogue."),
    noise: float = typer.Option(0.1, help="Share of judgments flipped as annotator noise (0..1)."),
    products: int = typer.Option(2400, "--products", help="Number of products."),
    queries: int = typer.Option(500, "--queries", help="Number of queries."),
) -> None:
    """Generate the built-in sample store (products, queries, judgments, engagement, splits)."""
    from ecomrel.data.sample import write_sample

    check_out_path(out)
    summary = write_sample(out, n_products=products, n_queries=queries, seed=seed, noise=noise)
    console.print(_sample_table(summary))


# --- split --------------------------------------------------------------------------------------


@app.command("split")
@friendly_errors
def split(
    folder: Path = typer.Argument(..., help="A data folder (with queries.parquet)."),
    seed: int = typer.Option(0, help="Random seed: same seed, same split."),
    train: float = typer.Option(0.7, help="Share of queries in train."),
    dev: float = typer.Option(0.15, help="Share of queries in dev."),
    test: float = typer.Option(0.15, help="Share of queries in test."),
) -> None:
    """Split a data folder's queries into train/dev/test (by query, stratified by frequency band)."""
    from ecomrel.data.splits import write_splits

    result = write_splits(folder, {"train": train, "dev": dev, "test": test}, seed=seed)
    by_band = result.get("by_band", {})
    bands = sorted({b for v in by_band.values() for b in v}, key=["head", "torso", "tail"].index)
    table = Table(title=f"splits → {result['path']}")
    table.add_column("split")
    table.add_column("queries", justify="right")
    for b in bands:
        table.add_column(b, justify="right")
    for s, n in result["counts"].items():
        table.add_row(s, f"{n:,}", *(f"{by_band.get(s, {}).get(b, 0):,}" for b in bands))
    console.print(table)


# --- import (ecomrel.cli.data_import) -----------------------------------------------------------

from ecomrel.cli.data_import import import_command  # noqa: E402

app.command("import")(import_command)
