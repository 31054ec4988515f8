"""``ecomrel judge``: score every pair of a data folder with the LLM judge (resumable)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from ecomrel.cli.common import err_console, friendly_errors


@friendly_errors
def judge_command(
    model: str = typer.Option(
        "smollm2", "--model", help="Built-in name, local model folder or hub id (offline)."
    ),
    data: Path = typer.Option(..., "--data", exists=True, file_okay=False, help="ecomrel data folder."),
    out: Path = typer.Option(..., "--out", help="Output folder (scores.parquet, parts/, manifest.json)."),
    adapter: Path | None = typer.Option(None, "--adapter", help="LoRA adapter folder on top of the model."),
    split: str | None = typer.Option(None, "--split", help="Judge only this split's pairs."),
    limit: int | None = typer.Option(None, "--limit", min=1, help="At most this many pairs (whole queries)."),
    batch_size: int = typer.Option(16, "--batch-size", min=1, help="Rows per forward pass."),
    share_prefix: bool = typer.Option(
        True, "--share-prefix/--no-share-prefix", help="Encode each query's prompt prefix once."
    ),
    chunk_size: int = typer.Option(64, "--chunk-size", min=1, help="Pairs per resumable part file."),
    thresholds: Path | None = typer.Option(None, "--thresholds", help="CumPT thresholds JSON to apply."),
    tune_split: str | None = typer.Option(None, "--tune-split", help="Tune CumPT thresholds on this split."),
    threads: int | None = typer.Option(None, "--threads", min=1, help="torch threads."),
    backend: str = typer.Option("local", "--backend", help="local, ray or vllm."),
    config: Path | None = typer.Option(
        None, "--config", exists=True, dir_okay=False, help="JudgeConfig YAML."
    ),
    overwrite: bool = typer.Option(
        False, "--overwrite", help="Discard an earlier run with another configuration."
    ),
) -> None:
    """Grade probabilities, expected grade and CumPT tier for every pair → <out>/scores.parquet."""
    from ecomrel.llm.judge import run_judge
    from ecomrel.llm.judge_config import JudgeConfig

    values = dict(
        model=model,
        data=data,
        out=out,
        adapter=adapter,
        split=split,
        limit=limit,
        batch_size=batch_size,
        share_prefix=share_prefix,
        chunk_size=chunk_size,
        thresholds=thresholds,
        tune_split=tune_split,
        threads=threads,
        backend=backend,
        overwrite=overwrite,
    )
    cfg = JudgeConfig.from_yaml(config, **values) if config else JudgeConfig(**values)
    result = run_judge(cfg)
    err_console.print(
        f"judged {result['n_pairs']:,} pairs ({result['resumed']:,} from an earlier run) "
        f"in {result['seconds']:.1f}s → {result['scores']}"
    )
    typer.echo(json.dumps(result, indent=1, default=str))
