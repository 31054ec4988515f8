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
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    """ecomrel: curate data, teach and de-bias an LLM judge, distil it, rank with it, serve it."""


def _register() -> None:
    # Imported here so that `ecomrel --help` stays fast and each group owns its module.
    from ecomrel.cli import data as data_cli
    from ecomrel.cli import run as run_cli

    app.add_typer(data_cli.app, name="data")
    from ecomrel.cli import judge as judge_cli

    app.command("judge")(judge_cli.judge_command)
    from ecomrel.cli import rank as rank_cli

    app.add_typer(rank_cli.app, name="rank")
    app.command("run")(run_cli.run_command)
    app.command("demo")(run_cli.demo_command)
    from ecomrel.cli import baseline as baseline_cli
    from ecomrel.cli import eval as eval_cli

    app.command("eval")(eval_cli.eval_command)
    app.command("baseline")(baseline_cli.baseline_command)
    from ecomrel.cli import export as export_cli
    from ecomrel.cli import serve as serve_cli
    from ecomrel.cli import train as train_cli

    app.add_typer(train_cli.app, name="train")
    app.add_typer(export_cli.app, name="export")
    app.command("serve")(serve_cli.serve_command)
    from ecomrel.cli import reason as reason_cli

    app.add_typer(reason_cli.app, name="reason")


_register()


def main() -> None:
    app()
