"""Helpers the stage modules share: evaluating a prediction file and running the judge."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import pandas as pd
from pydantic import Field

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


def decided_row(
    ctx: StageContext,
    row: str,
    test_scores: str | Path,
    dev_scores: str | Path | None,
    *,
    save_beside: str | Path | None = None,
    queries_from: str | Path | None = None,
) -> dict[str, Any]:
    """The metrics row of a model whose grades are cut points on its expected grade tuned on dev.

    Argmax is a poor decision for a model whose grade prior is off (the SFT judge's, a student's
    after one epoch); the lexical baselines already grade by cut points tuned on dev, so every
    learned model is given the same rule: :func:`ecomrel.decisions.fit_decisions` on
    ``dev_scores``, applied to ``test_scores`` (written as ``<name>_decided.parquet`` beside it)
    and saved as ``decisions.json`` in ``save_beside`` (the model folder, which ``predict`` and
    ``serve`` read). The row keeps the argmax macro-F1 as ``f1_macro_argmax``. Without
    ``dev_scores`` the row is the argmax one.
    """
    from ecomrel.decisions import apply_decisions, fit_decisions, save_decisions
    from ecomrel.eval import evaluate

    if dev_scores is None:
        return evaluate_predictions(ctx, test_scores, row, queries_from)
    test_scores = Path(test_scores)
    data = Dataset.load(ctx.data_dir)
    decisions = fit_decisions(
        pd.read_parquet(dev_scores), data.judgments, meta={"split": "dev", "scores": str(dev_scores)}
    )
    if save_beside is not None:
        save_decisions(decisions, save_beside)
    decided = test_scores.with_name(test_scores.stem + "_decided.parquet")
    apply_decisions(pd.read_parquet(test_scores), decisions).to_parquet(decided, index=False)
    out = evaluate_predictions(ctx, decided, row, queries_from)
    queries = scored_queries(queries_from) if queries_from is not None else None
    argmax = evaluate(data, test_scores, split="test", metrics=["f1_macro"], queries=queries).flat()
    out["f1_macro_argmax"] = argmax.get("f1_macro")
    out["dev_pairs"] = int(decisions.fitted_on.get("n_pairs", 0))
    return out


PAIR_LIMITS = ("limit", "train_limit", "dev_limit")
"""Keys of ``options.judge`` that say which pairs the pipeline scores, not how the judge scores."""


def judge_options(ctx: StageContext, template: str | None = None) -> dict[str, Any]:
    """``options.judge`` as JudgeConfig fields (without :data:`PAIR_LIMITS`), with the prompt
    ``template`` a tuned judge was trained on in place of the zero-shot one."""
    opts = {k: v for k, v in ctx.config.options.get("judge", {}).items() if k not in PAIR_LIMITS}
    if template is not None:
        opts["template"] = template
    return opts


def judge_row(
    ctx: StageContext,
    row: str,
    adapter: str | Path | None = None,
    *,
    limit: int | None = None,
    template: str | None = None,
    folder: str = "judge_{split}",
) -> dict[str, Any]:
    """Score the test pairs (and ``options.judge.dev_limit`` dev pairs for the cut points) with the
    judge (+ ``adapter``, scored with the ``template`` it was trained on) and evaluate it.

    The judge, SFT, DPO and GRPO stages all score the same test queries this way (the same
    ``limit`` and seed), so their rows compare like with like."""
    given = ctx.config.options.get("judge", {})
    test_limit = limit or int(given.get("limit", 150))
    dev_limit = int(given.get("dev_limit", 0))
    judge_opts = judge_options(ctx, template)

    def score(split: str, n: int) -> Path:
        out = ctx.stage_dir / folder.format(split=split)
        return Path(run_judge_on(ctx, judge_opts, out, split, n, adapter)["scores"])

    test = score("test", test_limit)
    dev = score("dev", dev_limit) if dev_limit else None
    beside = adapter if adapter is not None else ctx.stage_dir
    if dev is not None:
        tune_tiers(ctx, dev, beside)
    return decided_row(ctx, row, test, dev, save_beside=beside, queries_from=test)


def tune_tiers(ctx: StageContext, dev_scores: str | Path, beside: str | Path) -> Path:
    """TaoSR1's CumPT tier thresholds tuned on a judge's dev scores (tier macro-F1 against the human
    grades), saved as ``cumpt_thresholds.json`` beside the judge, where ``serve`` reads its tiers."""
    from ecomrel.grades import get_scale
    from ecomrel.llm.cumpt import THRESHOLDS_FILE, default_tiers, tune

    scale = get_scale(ctx.config.options.get("judge", {}).get("scale"))
    data = Dataset.load(ctx.data_dir)
    scores = pd.read_parquet(dev_scores).astype({"query_id": str, "product_id": str})
    judged = data.judgments[["query_id", "product_id", "grade"]].astype({"query_id": str, "product_id": str})
    both = scores.merge(judged.dropna(subset=["grade"]), on=["query_id", "product_id"])
    cumpt = tune(
        both[scale.prob_columns()].to_numpy(), both["grade"].astype(int).to_numpy(), default_tiers(scale)
    )
    return cumpt.save(Path(beside) / THRESHOLDS_FILE)


TrainLimit = Annotated[
    int, Field(ge=0, description="Train pairs (whole queries) the tuned judge scores, for distillation.")
]
"""``train_limit`` of the sft, dpo and grpo stages (0: none)."""

TRAIN_SCORES = "judge_train"
"""Folder (in a judge-training stage's folder) of the tuned judge's scores on train pairs: the
distillation teacher (``options.distill.teacher``)."""


def score_train_pairs(
    ctx: StageContext, limit: int, adapter: str | Path, template: str | None = None
) -> Path | None:
    """The tuned judge's scores on ``limit`` train pairs (whole queries), for distillation; None if 0."""
    if not limit:
        return None
    out = ctx.stage_dir / TRAIN_SCORES
    scored = run_judge_on(ctx, judge_options(ctx, template), out, "train", limit, adapter=adapter)
    return Path(scored["scores"])


def sft_template(ctx: StageContext) -> str | None:
    """The prompt template the run's SFT judge was trained with (what DPO mines and scores with)."""
    return (ctx.config.options.get("sft", {}).get("train", {}) or {}).get("template")


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
