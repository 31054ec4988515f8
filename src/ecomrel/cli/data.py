"""``ecomrel data ...``: import real data, generate the sample catalogue, split by query."""

from __future__ import annotations

import typer

app = typer.Typer(help="Import, generate and split data folders.", no_args_is_help=True)
