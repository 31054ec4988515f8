"""The pipeline's stages: each a thin function from the run config to files and metrics.

A stage reads what earlier stages wrote in the run folder and calls one module's public
function; it holds no method logic of its own.
"""

from __future__ import annotations

from pathlib import Path

from ecomrel.data.schema import DataError, Dataset
from ecomrel.pipeline import RunContext, console, stage


@stage("data")
def data_stage(ctx: RunContext) -> dict[str, dict[str, float]]:
    """Build the run's data folder: the built-in sample, a real source, or an existing folder."""
    from ecomrel.data.splits import split_by_query

    opts = ctx.config.data
    out = ctx.data_dir
    if opts.source == "sample":
        from ecomrel.data.sample import generate_sample

        ds = generate_sample(
            n_products=opts.sample.products,
            n_queries=opts.sample.queries,
            seed=ctx.config.seed,
            noise=opts.sample.noise,
        )
    elif opts.source == "folder":
        if opts.path is None:
            raise DataError("data.path is required for source 'folder'")
        ds = Dataset.load(opts.path)
    else:
        from ecomrel.data.sources import import_source

        if opts.path is None:
            raise DataError(f"data.path is required for source {opts.source!r}")
        mapping = None
        if opts.mapping is not None:
            import yaml

            mapping = yaml.safe_load(Path(opts.mapping).read_text())
        import_source(opts.source, opts.path, out, mapping=mapping)
        ds = Dataset.load(out)
    if ds.splits is None:
        ds.splits = split_by_query(ds.queries, fractions=opts.split, seed=ctx.config.seed)
    ds.save(out)
    counts = ds.splits["split"].value_counts().to_dict()
    console.print(
        f"data: {len(ds.products):,} products, {len(ds.queries):,} queries, {len(ds.judgments):,} judgments; "
        + ", ".join(f"{k} {v:,} queries" for k, v in sorted(counts.items()))
    )
    return {}


@stage("baselines")
def baselines_stage(ctx: RunContext) -> dict[str, dict[str, float]]:
    """BM25 and TF-IDF rankers, grade cut points tuned on dev, scored on test."""
    from ecomrel.baselines import run_baseline

    rows = {}
    for method in ctx.options.get("methods", ["bm25", "tfidf"]):
        result = run_baseline(method, ctx.data_dir, ctx.stage_dir, tune_split="dev", eval_split="test")
        rows[method] = _evaluate(ctx, result["predictions"])
    return rows


def _judge(ctx: RunContext, out: Path, split: str, limit: int, adapter: str | None = None) -> dict:
    """Score ``limit`` pairs (whole queries) of one split with the LLM judge; resumable."""
    from ecomrel.llm.judge import run_judge
    from ecomrel.llm.judge_config import JudgeConfig

    stage_only = ("limit", "train_limit")
    opts = {k: v for k, v in ctx.config.options.get("judge", {}).items() if k not in stage_only}
    opts = {"model": "smollm2", "threads": 1, **opts}
    config = JudgeConfig(data=ctx.data_dir, out=out, split=split, limit=limit, adapter=adapter, **opts)
    return run_judge(config)


def _evaluate(ctx: RunContext, predictions: str | Path, queries: set[str] | None = None) -> dict[str, float]:
    """Test-split metrics of a prediction file, optionally on a subset of whole queries."""
    from ecomrel.eval import evaluate

    gains = ctx.config.options.get("eval", {}).get("gains", "grade")
    return evaluate(ctx.data_dir, predictions, split="test", queries=queries, gains=gains).flat()


def _scored_queries(scores: str | Path) -> set[str]:
    import pandas as pd

    return set(pd.read_parquet(scores, columns=["query_id"])["query_id"])


@stage("judge")
def judge_stage(ctx: RunContext) -> dict[str, dict[str, float]]:
    """Zero-shot LLM judge: label-first grade probabilities on test pairs (and train pairs to distil)."""
    limit = int(ctx.options.get("limit", 150))
    test = _judge(ctx, ctx.stage_dir / "test", "test", limit)
    train_limit = int(ctx.options.get("train_limit", 0))
    if train_limit:
        _judge(ctx, ctx.stage_dir / "train", "train", train_limit)
    # The judge scores a subset of test queries on CPU: baselines are re-scored on that subset.
    subset = _scored_queries(test["scores"])
    rows = {"judge_zero_shot": _evaluate(ctx, test["scores"], subset)}
    for method in ("bm25", "tfidf"):
        baseline = ctx.out / "baselines" / f"{method}_predictions.parquet"
        if baseline.exists():
            rows[f"{method}@judge_subset"] = _evaluate(ctx, baseline, subset)
    return rows


@stage("sft")
def sft_stage(ctx: RunContext) -> dict[str, dict[str, float]]:
    """LREF Multi-CoT SFT (EE → RA → DR, LoRA), then the tuned judge on the same test pairs."""
    from ecomrel.train.sft_config import demo_config
    from ecomrel.train.sft_trainer import run_sft

    opts = ctx.options
    config = demo_config(ctx.data_dir, ctx.stage_dir / "model", **opts.get("train", {}))
    result = run_sft(config)
    limit = int(opts.get("limit", ctx.config.options.get("judge", {}).get("limit", 150)))
    scored = _judge(ctx, ctx.stage_dir / "judge_test", "test", limit, adapter=result["adapter"])
    row = _evaluate(ctx, scored["scores"], _scored_queries(scored["scores"]))
    row.update(train_seconds=float(result["train_seconds"]), peak_rss_mb=float(result["peak_rss_mb"]))
    return {"judge_sft_multicot": row}


@stage("rank")
def rank_stage(ctx: RunContext) -> dict[str, dict[str, float]]:
    """Walmart: LLM content labels (sigmoid-polarized) blended with engagement → LambdaMART.

    The content label needs a grade distribution for every pair. On CPU the LLM judge scores
    only a subset, so the demo labels with the judge's distilled student (LREF's way to label at
    scale) when the distill stage ran; ``options.rank.labels_from`` can point at any prediction file.
    """
    from ecomrel.rank.rank_config import RankConfig
    from ecomrel.rank.tradeoff import run_tradeoff

    opts = ctx.options
    student = ctx.out / "distill" / "student_scores.parquet"
    labels_from = opts.get("labels_from") or (
        student if student.exists() else ctx.out / "judge" / "all" / "scores.parquet"
    )
    if not Path(labels_from).exists():
        raise DataError(
            f"rank: no grade distributions at {labels_from}; "
            "run the distill stage or set options.rank.labels_from"
        )
    config = RankConfig.model_validate(opts.get("config", {}))
    result = run_tradeoff(
        ctx.data_dir,
        labels_from,
        ctx.stage_dir,
        config=config,
        student_scores=student if student.exists() else None,
    )
    k = config.tradeoff.k
    rows = {}
    picks = {"engagement_only": result["engagement_only"], "best_blend": result["best_blend"]}
    for r in result["table"]:
        if r["rule"] == "content_only":
            picks["content_only" if r["transform"] == "identity" else f"content_{r['transform']}"] = r
    for label, row in picks.items():
        if row:
            rows[f"rank:{label}"] = {
                f"ndcg@{k}": row[f"ndcg@{k}"],
                f"engagement@{k}": row[f"engagement@{k}"],
            }
    console.print(
        f"rank: best blend {result['best_blend']['name'] if result['best_blend'] else None}; "
        f"criterion met: {result['criterion'].get('met')}"
    )
    return rows


@stage("distill")
def distill_stage(ctx: RunContext) -> dict[str, dict[str, float]]:
    """LREF: distil the judge into a MiniLM cross-encoder; export ONNX int8; check the service.

    Teacher distributions come from the judge stage's train pairs (``options.judge.train_limit``);
    the student also learns the human grades, then scores every judged pair
    (``student_scores.parquet``), which the rank stage uses as content labels at scale.
    """
    import pandas as pd

    from ecomrel.export.onnx import export_onnx
    from ecomrel.serve.app import serve_check
    from ecomrel.train.distill_config import DistillConfig
    from ecomrel.train.distill_trainer import make_student, predict_proba, prediction_frame, run_distill

    teacher = ctx.out / "judge" / "train" / "scores.parquet"
    train_opts = {"epochs": 1.0, "max_train_pairs": 2000, **ctx.options.get("train", {})}
    config = DistillConfig(
        data_dir=ctx.data_dir,
        teacher=teacher if teacher.exists() else None,
        out=ctx.stage_dir / "student",
        **train_opts,
    )
    result = run_distill(config)
    pairs = Dataset.load(ctx.data_dir).pairs()
    student = make_student(result["model_dir"], config.recipe)
    products = [config.recipe.product_text(r) for r in pairs.to_dict("records")]
    probs = predict_proba(student, pairs["query"].fillna("").astype(str).tolist(), products)
    frame = pd.DataFrame(
        {"query_id": pairs["query_id"].astype(str), "product_id": pairs["product_id"].astype(str)}
    )
    prediction_frame(frame, probs).to_parquet(ctx.stage_dir / "student_scores.parquet", index=False)

    exported = export_onnx(result["model_dir"], ctx.stage_dir / "onnx")
    check = serve_check(ctx.stage_dir / "onnx")
    console.print(
        f"distill: ONNX {exported['out_dir']} (fp32 {exported['fp32_mb']} MB, int8 {exported['int8_mb']} MB, "
        f"torch parity {exported['max_abs_logit_diff']:.1e}); serve check {check}"
    )
    row = _evaluate(ctx, ctx.stage_dir / "student_scores.parquet")
    row["train_seconds"] = float(result["seconds"])
    return {"student_minilm": row}
