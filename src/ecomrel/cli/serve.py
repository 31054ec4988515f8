"""``ecomrel serve``: the relevance service over HTTP (FastAPI + uvicorn)."""

from __future__ import annotations

from pathlib import Path

import typer

from ecomrel.cli.common import friendly_errors


@friendly_errors
def serve_command(
    model: Path = typer.Option(
        ..., "--model", "-m", help="Distill folder, ONNX export, or torch student folder."
    ),
    host: str = typer.Option("127.0.0.1", "--host", help="Bind address."),
    port: int = typer.Option(8000, "--port", help="Bind port."),
    api_key_env: str | None = typer.Option(
        None,
        "--api-key-env",
        help="Environment variable holding the API key (header X-API-Key); unset = open.",
    ),
    backend: str = typer.Option("onnx-int8", "--backend", help="onnx-int8 | onnx-fp32 | torch | llm."),
    threads: int = typer.Option(1, "--threads", help="Model inference threads."),
    max_batch: int = typer.Option(64, "--max-batch", help="Micro-batch: most pairs per model call."),
    max_wait_ms: float = typer.Option(
        5.0, "--max-wait-ms", help="Micro-batch: longest wait to fill a batch."
    ),
    max_candidates: int = typer.Option(200, "--max-candidates", help="Most candidates per /v1/rank request."),
    max_pairs: int = typer.Option(256, "--max-pairs", help="Most pairs per /v1/relevance request."),
    adapter: Path | None = typer.Option(None, "--adapter", help="LoRA adapter of the judge (backend llm)."),
) -> None:
    """Serve POST /v1/relevance and /v1/rank, /healthz, /readyz, /metrics (Prometheus), /docs."""
    from ecomrel.serve.app import run_server
    from ecomrel.serve.settings import ServeSettings

    run_server(
        ServeSettings(
            model=model,
            host=host,
            port=port,
            api_key_env=api_key_env,
            backend=backend,
            threads=threads,
            max_batch=max_batch,
            max_wait_ms=max_wait_ms,
            max_candidates=max_candidates,
            adapter=adapter,
            max_pairs=max_pairs,
        )
    )
