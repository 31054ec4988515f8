"""``ecomrel reason ...``: Multi-CoT reasoning chains (EE / RA / DR) for SFT, and the rules check."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from ecomrel.cli.common import check_split, friendly_errors

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
    kinds: str = typer.Option(
        "ee,ra,dr",
        "--kinds",
        help="Comma-separated chain kinds: ee, ra, dr (LREF), rag (TaoSR1 rules).",
    ),
    teacher: str = typer.Option("builtin", "--teacher", help="EE teacher: builtin (the analyst) or openai."),
    rules: Path | None = typer.Option(None, "--rules", help="Business-rules YAML (default: packaged rules)."),
    kb: Path | None = typer.Option(
        None, "--kb", help="Knowledge base of atomic rules for rag chains, YAML or CSV (default: packaged)."
    ),
    top_k: int | None = typer.Option(None, "--top-k", help="Rules retrieved per pair for rag chains."),
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
    rag: dict = {}
    if kb is not None:
        rag["kb"] = str(kb)
    if top_k is not None:
        rag["retriever"] = {**cfg.rag.retriever.model_dump(), "k": top_k}
    t = {"kind": teacher}
    for key, val in (("base_url", base_url), ("model", model), ("api_key_env", api_key_env)):
        if val:
            t[key] = val
    raw = cfg.model_dump()
    raw.update(update, teacher={**raw["teacher"], **t}, rag={**raw["rag"], **rag})
    cfg = validate_config(ChainConfig, raw, config, "chain")
    # every input checked before the first pair: the split exists, the teacher can be reached
    check_split(data, cfg.split)
    if cfg.teacher.kind == "openai":
        import os

        from ecomrel.reason.teacher import check_endpoint

        check_endpoint(cfg.teacher, os.environ.get(cfg.teacher.api_key_env, ""))
    report = run_chains(data, out, cfg, predictions=predictions)
    console.print(_table(report))
    if "rag" in report:
        v, c = report["rag"]["validity"], report["rag"]["cost"]
        console.print(
            f"rag: {report['rag']['n_chains']:,} chains, label-first {v['label_first']:.0%}, five steps "
            f"{v['five_steps']:.0%}, verdict = gold {v['verdict_is_gold']:.0%}, cites a retrieved rule "
            f"{v['cites_retrieved']:.0%}; teacher {c['seconds_per_1000_chains']:.2f} s per 1,000 chains"
            + (f", {c['price_per_1000_chains']:.4f} per 1,000 chains" if "price_per_1000_chains" in c else "")
        )


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


@app.command("atomize")
@friendly_errors
def atomize(
    policy: Path = typer.Argument(..., help="Policy document (Markdown or plain text)."),
    out: Path = typer.Option(..., "--out", "-o", help="Knowledge-base YAML to write."),
    teacher: str = typer.Option(
        "builtin", "--teacher", help="builtin (split by headings, bullets, sentences) or openai (ask an LLM)."
    ),
    base_url: str | None = typer.Option(
        None, "--base-url", envvar="ECOMREL_TEACHER_BASE_URL", help="OpenAI-compatible base URL (…/v1)."
    ),
    model: str | None = typer.Option(
        None, "--model", envvar="ECOMREL_TEACHER_MODEL", help="Teacher model name."
    ),
    api_key_env: str | None = typer.Option(
        None, "--api-key-env", help="Environment variable with the API key."
    ),
    min_words: int = typer.Option(4, "--min-words", help="Drop fragments shorter than this (builtin)."),
) -> None:
    """Split a relevance policy into atomic rules (TaoSR1's knowledge base) and write them as YAML."""
    from ecomrel.config import validate_config
    from ecomrel.reason.atomize import run_atomize
    from ecomrel.reason.chains_config import TeacherConfig
    from ecomrel.reason.teacher import make_teacher

    t: dict = {"kind": teacher}
    for key, val in (("base_url", base_url), ("model", model), ("api_key_env", api_key_env)):
        if val:
            t[key] = val
    tcfg = validate_config(TeacherConfig, t, None, "teacher")
    tm = make_teacher(tcfg) if tcfg.kind != "builtin" else None
    try:
        summary = run_atomize(policy, out, teacher=tm, min_words=min_words)
    finally:
        if tm is not None and hasattr(tm, "close"):
            tm.close()
    console.print(
        f"{summary['policy']} → {summary['out']}: {summary['rules']} atomic rules ({summary['method']})"
    )


@app.command("check-kb")
@friendly_errors
def check_kb(
    path: Path | None = typer.Argument(None, help="Knowledge base YAML/CSV (default: packaged)."),
) -> None:
    """Validate a knowledge base of atomic rules and list them (errors name the line)."""
    from ecomrel.reason.kb import load_kb

    kb = load_kb(path)
    console.print(f"{kb.source}: {len(kb)} rules, {len(kb.ruleset())} with a condition and an effect")
    console.print(kb.text(), markup=False)


@app.command("check-rules")
@friendly_errors
def check_rules(path: Path = typer.Argument(..., help="Business-rules YAML to validate.")) -> None:
    """Validate a business-rules file and list its rules (errors name the line)."""
    from ecomrel.reason.rules import load_rules

    rs = load_rules(path)
    console.print(f"{rs.source}: {len(rs)} rules, default grade {rs.default_grade}")
    console.print(rs.text())
