"""Helpers the stage modules share: evaluating a prediction file and running the judge."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from ecomrel.data.schema import Dataset
from ecomrel.pipeline.registry import StageContext


def evaluate_predictions(
    ctx: StageContext, predictions: str | Path, row: str, queries_from: str | Path | None = None
) -> dict[str, float]:
    """Test-split metrics of a prediction file, optionally on the queries another prediction file
    scored (``queries_from``: the judge scores a subset on a CPU); recorded under metric row ``row``
    in ``eval/predictions.json`` so the report can draw its confusion matrix and reliability diagram.

    The row carries ``segments``: the same metrics per query kind and frequency band (or the
    columns ``options.eval.by`` names), where the queries table has them."""
    from ecomrel.eval import evaluate, record_predictions
    from ecomrel.eval.segments import DEFAULT_SEGMENTS, available_segments

    eval_opts = ctx.config.options.get("eval", {})
    gains = eval_opts.get("gains", "grade")
    record_predictions(
        ctx.out, row, predictions, split="test", stage=ctx.name, queries_from=queries_from, gains=gains
    )
    queries = scored_queries(queries_from) if queries_from is not None else None
    data = Dataset.load(ctx.data_dir)
    by = available_segments(data.queries, eval_opts.get("by", DEFAULT_SEGMENTS))
    report = evaluate(data, predictions, split="test", queries=queries, gains=gains, by=by or None)
    out: dict[str, Any] = report.flat()
    if report.segments:
        out["segments"] = report.segments
    return out


def scored_queries(scores: str | Path) -> set[str]:
    return set(pd.read_parquet(scores, columns=["query_id"])["query_id"])


def run_judge_on(
    ctx: StageContext,
    judge_options: dict[str, Any],
    out: Path,
    split: str,
    limit: int,
    adapter: str | Path | None = None,
) -> dict:
    """Score ``limit`` pairs (whole queries) of one split with the LLM judge; resumable."""
    from ecomrel.llm.judge import run_judge
    from ecomrel.llm.judge_config import JudgeConfig

    opts = {"model": "smollm2", "threads": 1, **judge_options}
    config = JudgeConfig(data=ctx.data_dir, out=out, split=split, limit=limit, adapter=adapter, **opts)
    return run_judge(config)


def nested_config_check(model: type, fixed: dict[str, Any], given: dict[str, Any], what: str) -> None:
    """Validate ``given`` options by constructing ``model(**fixed, **given)`` (errors name ``what``).

    Used by stage options that pass a block through to a module's own config (the judge, a
    trainer), so a typo fails before any stage runs.
    """
    from ecomrel.errors import ConfigError

    clash = sorted(set(fixed) & set(given))
    if clash:
        raise ConfigError(f"{what}: {', '.join(clash)} is set by the pipeline itself")
    one_line_errors(lambda: model.model_validate({**fixed, **given}), what)


def one_line_errors(build, what: str):
    """``build()``; a pydantic ValidationError or TypeError becomes a one-line ConfigError naming ``what``."""
    from pydantic import ValidationError

    from ecomrel.config import validation_problems
    from ecomrel.errors import ConfigError

    try:
        return build()
    except ValidationError as exc:
        raise ConfigError(f"{what}: {validation_problems(exc)}") from None
    except TypeError as exc:
        raise ConfigError(f"{what}: {exc}") from None
