"""``ecomrel select``: LREF data selection — every judged pair kept or dropped, with its reason."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from ecomrel.cli.common import friendly_errors


@friendly_errors
def select_command(
    data: Path | None = typer.Option(None, "--data", help="Data folder (overrides data_dir)."),
    out: Path | None = typer.Option(None, "--out", help="Output folder, e.g. <run>/select (overrides out)."),
    config: Path | None = typer.Option(
        None, "--config", "-c", help="SelectConfig YAML (see docs/selection.md)."
    ),
    sets: list[str] | None = typer.Option(
        None, "--set", help="Any config field: key.sub=value (YAML value), e.g. --set keep_ratio=0.2."
    ),
) -> None:
    """Train the IM / CI / MS helpers out-of-fold, flag mislabels, keep hard ∧ learnable ∧ clean pairs.

    Writes decisions.parquet (every pair, with the helpers' probabilities and the reason),
    selected.parquet (the training set), suspected_mislabels.parquet and metrics.json. A killed run
    resumes: finished helper folds are not retrained.
    """
    import logging

    from ecomrel.select import SelectConfig, run_selection

    logging.getLogger("ecomrel.select").setLevel(logging.INFO)
    if data is None and config is None:
        raise typer.BadParameter("give --data (or a --config that sets data_dir)", param_hint="--data")
    cfg = SelectConfig.from_yaml(config, sets or [], {"data_dir": data, "out": out})
    result = run_selection(cfg)
    keys = (
        "out",
        "selected",
        "suspected_mislabels",
        "counts",
        "keep_ratio",
        "flags",
        "noise_check",
        "wall_seconds",
    )
    typer.echo(json.dumps({k: result[k] for k in keys if k in result}, indent=2, default=str))
