"""The ``ecomrel`` command line: one Typer app; every sub-command is a thin call into a stage.

Each command group lives in its own module of this package and is registered below.
"""

from __future__ import annotations

import typer

from ecomrel import __version__

app = typer.Typer(
    name="ecomrel",
    help="An LLM as the relevance engine of an e-commerce search.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"ecomrel {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version."
    ),
    verbose: bool = typer.Option(
        False,
        "--verbose",
        "-v",
        help="Show third-party warnings and log records (default: they go to <run folder>/ecomrel.log).",
    ),
) -> None:
    """ecomrel: curate data, teach and de-bias an LLM judge, distil it, rank with it, serve it."""
    from ecomrel.cli.common import configure_output

    configure_output(verbose)


def _register() -> None:
    """Attach every command group, in the order a run uses them."""
    from ecomrel.cli import baseline, data, export, judge, rank, reason, run, serve, train
    from ecomrel.cli import eval as eval_cli
    from ecomrel.cli import predict as predict_cli
    from ecomrel.cli import select as select_cli

    app.command("demo")(run.demo_command)
    app.command("run")(run.run_command)
    app.add_typer(data.app, name="data")
    app.command("baseline")(baseline.baseline_command)
    app.command("eval")(eval_cli.eval_command)
    app.command("predict")(predict_cli.predict_command)
    app.command("calibrate")(predict_cli.calibrate_command)
    app.command("select")(select_cli.select_command)
    app.command("judge")(judge.judge_command)
    app.add_typer(reason.app, name="reason")
    app.add_typer(train.app, name="train")
    app.add_typer(export.app, name="export")
    app.command("serve")(serve.serve_command)
    app.add_typer(rank.app, name="rank")


_register()


def main() -> None:
    app()
