"""``ecomrel data import <format> <path>``: a real data set → a canonical data folder + rejects."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ecomrel.cli.common import friendly_errors


class SourceFormat(StrEnum):
    esci = "esci"
    wands = "wands"
    homedepot = "homedepot"
    csv = "csv"


class SplitName(StrEnum):
    train = "train"
    dev = "dev"
    test = "test"


class ProductConflict(StrEnum):
    keep = "keep"
    reject = "reject"


@friendly_errors
def import_command(
    fmt: SourceFormat = typer.Argument(..., metavar="FORMAT", help="esci | wands | homedepot | csv"),
    path: Path = typer.Argument(
        ..., help="The source: a file, or a folder (WANDS; ESCI's examples + products files)."
    ),
    out: Path | None = typer.Option(None, "--out", "-o", help="Data folder to write (default: data/FORMAT)."),
    mapping: Path | None = typer.Option(
        None,
        "--mapping",
        "-m",
        help="YAML mapping: columns and labels for `csv` (see ecomrel.data.sources.csv_generic); "
        "encoding / max_field_chars for the other formats.",
    ),
    split: SplitName | None = typer.Option(
        None,
        "--split",
        help="Add the file as this split (train | dev | test) of a new or existing folder: queries must "
        "not be in another file's split; re-importing a file replaces what it brought.",
    ),
    on_product_conflict: ProductConflict = typer.Option(
        ProductConflict.keep,
        "--on-product-conflict",
        help="With --split, a product id the folder holds with another text: keep (each judgment keeps "
        "its own text under the id <id>~<hash>, original in source_product_id) or reject "
        "(to rejects.parquet).",
    ),
    dev: float | None = typer.Option(
        None, "--dev", help="With --split train: this share of the file's queries becomes the dev split."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of the --dev query sample."),
) -> None:
    """Import a data set: every row is either imported or written to rejects.parquet with its reason."""
    from ecomrel.data.sources import import_source

    # a user error (DataError) is one escaped line and exit 2 (friendly_errors); anything else is a bug
    report = import_source(
        fmt.value,
        path,
        out or Path("data") / fmt.value,
        mapping,
        split=split.value if split is not None else None,
        on_product_conflict=on_product_conflict.value,
        dev=dev,
        seed=seed,
    )
    console = Console(highlight=False)
    table = Table(title=f"ecomrel data import {report.format}")
    for col in ("file", "read", "imported", "rejected"):
        table.add_column(col, justify="left" if col == "file" else "right")
    for f in report.files:
        table.add_row(escape(Path(f.file).name), f"{f.read:,}", f"{f.imported:,}", f"{f.rejected:,}")
    console.print(table)
    console.print(
        f"products {report.products:,} · queries {report.queries:,} · judgments {report.judgments:,} "
        f"→ {report.out} ({report.seconds:.1f} s)",
        markup=False,
    )
    for line in report.iter_lines():
        console.print(line, markup=False)
    if report.rejected:
        console.print(f"details: {report.out / 'rejects.parquet'}", markup=False)
    if report.warnings:
        console.print(f"warnings: {report.out / 'warnings.parquet'}", markup=False)
    if report.undecodable_hint:
        console.print(
            "hint: some rows are not valid UTF-8; if the file uses another encoding, "
            "pass a mapping with e.g. `encoding: latin-1`.",
            markup=False,
        )
