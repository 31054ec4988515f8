"""``ecomrel judge``: score every pair of a data folder with the LLM judge (resumable)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from ecomrel.cli.common import check_out_path, err_console, friendly_errors, log_into


@friendly_errors
def judge_command(
    data: Path | None = typer.Option(
        None, "--data", exists=True, file_okay=False, help="ecomrel data folder."
    ),
    out: Path | None = typer.Option(
        None, "--out", help="Output folder (scores.parquet, parts/, manifest.json)."
    ),
    model: str | None = typer.Option(
        None, "--model", help="Built-in 'smollm2' (default), local folder or hub id."
    ),
    adapter: Path | None = typer.Option(None, "--adapter", help="LoRA adapter folder on top of the model."),
    split: str | None = typer.Option(None, "--split", help="Judge only this split's pairs."),
    limit: int | None = typer.Option(
        None, "--limit", min=1, help="At most this many pairs (whole queries; the last may be cut)."
    ),
    limit_queries: int | None = typer.Option(
        None,
        "--limit-queries",
        min=1,
        help="Every pair of this many whole queries (seeded sample); not with --limit.",
    ),
    batch_size: int | None = typer.Option(None, "--batch-size", min=1, help="Rows per forward pass [16]."),
    share_prefix: bool | None = typer.Option(
        None, "--share-prefix/--no-share-prefix", help="Encode each query's prompt prefix once [on]."
    ),
    chunk_size: int | None = typer.Option(
        None, "--chunk-size", min=1, help="Pairs per resumable part file [64]."
    ),
    thresholds: Path | None = typer.Option(
        None, "--thresholds", help="CumPT thresholds JSON (default: beside the model, else β=0.5)."
    ),
    tune_split: str | None = typer.Option(None, "--tune-split", help="Tune CumPT thresholds on this split."),
    threads: int | None = typer.Option(None, "--threads", min=1, help="torch threads."),
    dtype: str | None = typer.Option(
        None, "--dtype", help="float32 (default) or bfloat16 (~2.7x faster on CPUs with AVX512-BF16/AMX)."
    ),
    backend: str | None = typer.Option(None, "--backend", help="local (default), ray or vllm."),
    scale: str | None = typer.Option(
        None, "--scale", help="Grade scale: default / taosr1 (4 grades) or lref (5 grades) [default]."
    ),
    config: Path | None = typer.Option(
        None, "--config", exists=True, dir_okay=False, help="JudgeConfig YAML."
    ),
    overwrite: bool = typer.Option(
        False, "--overwrite", help="Discard an earlier run with another configuration."
    ),
) -> None:
    """Grade probabilities, expected grade and CumPT tier for every pair → <out>/scores.parquet."""
    from ecomrel.config import validate_config
    from ecomrel.llm.judge import run_judge
    from ecomrel.llm.judge_config import JudgeConfig

    given = dict(
        model=model,
        data=data,
        out=out,
        adapter=adapter,
        split=split,
        limit=limit,
        limit_queries=limit_queries,
        batch_size=batch_size,
        share_prefix=share_prefix,
        chunk_size=chunk_size,
        thresholds=thresholds,
        tune_split=tune_split,
        threads=threads,
        dtype=dtype,
        backend=backend,
        scale=scale,
        overwrite=overwrite or None,
    )
    values = {k: v for k, v in given.items() if v is not None}  # flags override the YAML, defaults do not
    from ecomrel.errors import ConfigError

    if limit is not None and limit_queries is not None:
        raise ConfigError(
            "--limit (pairs) and --limit-queries (whole queries) are mutually exclusive: pass one"
        )
    if config is None and ("data" not in values or "out" not in values):
        raise ConfigError("--data and --out are required (or a --config YAML that names them)")
    if config:
        cfg = JudgeConfig.from_yaml(config, **values)
    else:
        cfg = validate_config(JudgeConfig, values, what="judge")
    check_out_path(cfg.out)
    log_into(cfg.out)  # transformers' FutureWarnings and the like go to <out>/ecomrel.log
    result = run_judge(cfg)
    err_console.print(
        f"judged {result['n_pairs']:,} pairs ({result['resumed']:,} from an earlier run) "
        f"in {result['segment_seconds']:.1f}s ({result['seconds']:.1f}s over {result['segments']} "
        f"segment(s)) → {result['scores']}"
    )
    typer.echo(json.dumps(result, indent=1, default=str))
