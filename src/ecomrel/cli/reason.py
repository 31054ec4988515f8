"""``ecomrel reason ...``: Multi-CoT reasoning chains (EE / RA / DR) for SFT, and the rules check."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from ecomrel.cli.common import friendly_errors

app = typer.Typer(
    help="Build reasoning chains (LREF Multi-CoT) and check business-rules files.", no_args_is_help=True
)
console = Console()


@app.command("chains")
@friendly_errors
def chains(
    data: Path = typer.Option(..., "--data", "-d", help="Data folder (products/queries/judgments Parquet)."),
    out: Path = typer.Option(
        ..., "--out", "-o", help="Run folder: writes <out>/cot/chains.parquet + report.json."
    ),
    kinds: str = typer.Option("ee,ra,dr", "--kinds", help="Comma-separated chain kinds: ee, ra, dr."),
    teacher: str = typer.Option("builtin", "--teacher", help="EE teacher: builtin (the analyst) or openai."),
    rules: Path | None = typer.Option(None, "--rules", help="Business-rules YAML (default: packaged rules)."),
    predictions: Path | None = typer.Option(
        None,
        "--predictions",
        help="Prediction Parquet (query_id, product_id, pred_grade): DR from its mistakes.",
    ),
    on_conflict: str = typer.Option(
        "drop", "--on-conflict", help="Chains contradicting the human grade: drop or correct."
    ),
    split: str | None = typer.Option("train", "--split", help="Split to build chains for ('' = all pairs)."),
    max_pairs: int | None = typer.Option(None, "--max-pairs", help="Cap on pairs (seeded sample)."),
    config: Path | None = typer.Option(
        None, "--config", help="Chain config YAML (options above override it)."
    ),
    base_url: str | None = typer.Option(
        None,
        "--base-url",
        envvar="ECOMREL_TEACHER_BASE_URL",
        help="OpenAI-compatible base URL (…/v1) for --teacher openai.",
    ),
    model: str | None = typer.Option(
        None, "--model", envvar="ECOMREL_TEACHER_MODEL", help="Teacher model name."
    ),
    api_key_env: str | None = typer.Option(
        None, "--api-key-env", help="Environment variable that holds the API key."
    ),
) -> None:
    """Write label-first EE / RA / DR chains for the judged pairs of a data folder."""
    from ecomrel.config import validate_config
    from ecomrel.reason.chains import run_chains
    from ecomrel.reason.chains_config import ChainConfig

    cfg = ChainConfig.from_yaml(config) if config else ChainConfig()
    update: dict = {
        "kinds": [k for k in kinds.split(",") if k.strip()],
        "on_conflict": on_conflict,
        "split": split or None,
        "max_pairs": max_pairs,
    }
    if rules is not None:
        update["rules"] = str(rules)
    t = {"kind": teacher}
    for key, val in (("base_url", base_url), ("model", model), ("api_key_env", api_key_env)):
        if val:
            t[key] = val
    raw = cfg.model_dump()
    raw.update(update, teacher={**raw["teacher"], **t})
    cfg = validate_config(ChainConfig, raw, config, "chain")
    report = run_chains(data, out, cfg, predictions=predictions)
    console.print(_table(report))


def _table(report: dict) -> Table:
    table = Table(title=f"chains → {report['paths']['chains']}")
    for col in ("kind", "kept", "corrected", "dropped"):
        table.add_column(col, justify="right" if col != "kind" else "left")
    for kind, c in report["by_kind"].items():
        table.add_row(kind, str(c["kept"]), str(c["corrected"]), str(c["dropped"]))
    ra = report["rule_accuracy"]
    if "accuracy" in ra:
        extra = f", vs true grade {ra['accuracy_vs_true']:.1%}" if "accuracy_vs_true" in ra else ""
        table.caption = (
            f"{report['n_pairs']:,} pairs; rules agree with the human grade on {ra['accuracy']:.1%}{extra}"
        )
    return table


@app.command("check-rules")
@friendly_errors
def check_rules(path: Path = typer.Argument(..., help="Business-rules YAML to validate.")) -> None:
    """Validate a business-rules file and list its rules (errors name the line)."""
    from ecomrel.reason.rules import load_rules

    rs = load_rules(path)
    console.print(f"{rs.source}: {len(rs)} rules, default grade {rs.default_grade}")
    console.print(rs.text())
