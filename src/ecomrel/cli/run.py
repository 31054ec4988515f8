"""``ecomrel run`` and ``ecomrel demo``: the whole pipeline from a config, or on the built-in sample."""

from __future__ import annotations

from pathlib import Path

import typer

from ecomrel.cli.common import friendly_errors, log_into
from ecomrel.config import load_config
from ecomrel.pipeline.runner import console, metrics_path, run_pipeline, summary_table


def demo_config_path() -> Path:
    """The packaged demo config (``ecomrel/resources/pipelines/demo.yaml``)."""
    from importlib.resources import files

    return Path(str(files("ecomrel") / "resources" / "pipelines" / "demo.yaml"))


@friendly_errors
def run_command(
    config: Path = typer.Argument(..., exists=True, dir_okay=False, help="Pipeline YAML."),
    set_: list[str] = typer.Option([], "--set", help="Override a config value: key.path=value (YAML value)."),
    force: list[str] = typer.Option(
        [], "--force", help="Re-run this stage even if complete ('all' for every stage)."
    ),
) -> None:
    """Run the stages a config names, in order, skipping those already complete."""
    cfg = load_config(config, set_)
    log_into(cfg.out)  # third-party warnings and debug records go to <out>/ecomrel.log
    run_pipeline(cfg, force=force)
    console.print(summary_table(cfg))
    console.print(f"metrics: {metrics_path(cfg.out)}")


@friendly_errors
def demo_command(
    out: Path = typer.Option(Path("runs/demo"), "--out", help="Run folder."),
    set_: list[str] = typer.Option([], "--set", help="Override a config value: key.path=value."),
    force: list[str] = typer.Option([], "--force", help="Re-run this stage even if complete ('all')."),
) -> None:
    """Run every stage on the built-in sample catalogue and the built-in small models."""
    cfg = load_config(demo_config_path(), [f"out={out}", *set_])
    log_into(cfg.out)  # third-party warnings and debug records go to <out>/ecomrel.log
    run_pipeline(cfg, force=force)
    console.print(summary_table(cfg))
    console.print(f"metrics: {metrics_path(cfg.out)}")
