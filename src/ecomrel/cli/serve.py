"""``ecomrel serve``: the relevance service over HTTP (FastAPI + uvicorn).

Options left out fall back to ``ECOMREL_SERVE_<FIELD>`` environment variables, then to the
defaults of :class:`ecomrel.serve.settings.ServeSettings`. Every start-up problem (a bad option,
a missing model folder, an unknown backend, a missing dependency, a taken port) is one line and
exit 2, before uvicorn starts.
"""

from __future__ import annotations

from pathlib import Path

import typer

from ecomrel.cli.common import friendly_errors


@friendly_errors
def serve_command(
    model: Path | None = typer.Option(
        None,
        "--model",
        "-m",
        help="Distill folder (runs/demo/distill), ONNX export, or torch student folder.",
    ),
    host: str | None = typer.Option(None, "--host", help="Bind address [127.0.0.1]."),
    port: int | None = typer.Option(None, "--port", help="Bind port, 0..65535 [8000]."),
    api_key_env: str | None = typer.Option(
        None,
        "--api-key-env",
        help="Environment variable holding the API key (header X-API-Key); unset = open.",
    ),
    backend: str | None = typer.Option(
        None,
        "--backend",
        help="auto | onnx-int8 | onnx-int8-plain | onnx-fp32 | openvino | openvino-int8 | torch-bf16 | "
        "torch | llm [auto: the fastest variant in variants.json that passes the fidelity bars].",
    ),
    auto_batch: int | None = typer.Option(
        None, "--auto-batch", help="Batch size the auto choice optimises for [max-batch]."
    ),
    auto_min_spearman: float | None = typer.Option(
        None, "--auto-min-spearman", help="auto: least Spearman of the expected grade vs torch fp32 [0.995]."
    ),
    auto_min_decided_agreement: float | None = typer.Option(
        None,
        "--auto-min-decided-agreement",
        help="auto: least argmax agreement with torch fp32 on decided pairs, 0..1 [1.0].",
    ),
    threads: int | None = typer.Option(None, "--threads", help="Model inference threads, >= 1 [1]."),
    max_batch: int | None = typer.Option(
        None, "--max-batch", help="Micro-batch: most pairs per model call [64]."
    ),
    max_wait_ms: float | None = typer.Option(
        None, "--max-wait-ms", help="Micro-batch: longest wait to fill a batch [5]."
    ),
    max_candidates: int | None = typer.Option(
        None, "--max-candidates", help="Most candidates per /v1/rank request [200]."
    ),
    max_pairs: int | None = typer.Option(
        None, "--max-pairs", help="Most pairs per /v1/relevance request [256]."
    ),
    max_body_bytes: int | None = typer.Option(
        None, "--max-body-bytes", help="Largest request body; larger gets 413 unread [4194304]."
    ),
    adapter: Path | None = typer.Option(None, "--adapter", help="LoRA adapter of the judge (backend llm)."),
    template: str | None = typer.Option(
        None, "--template", help="Prompt template the judge was trained with (backend llm) [judge_v1]."
    ),
) -> None:
    """Serve POST /v1/relevance and /v1/rank, /healthz, /readyz, /metrics (Prometheus), /docs."""
    from ecomrel.serve.app import run_server
    from ecomrel.serve.settings import load_settings

    given = dict(
        model=model,
        host=host,
        port=port,
        api_key_env=api_key_env,
        backend=backend,
        threads=threads,
        max_batch=max_batch,
        max_wait_ms=max_wait_ms,
        max_candidates=max_candidates,
        max_pairs=max_pairs,
        max_body_bytes=max_body_bytes,
        adapter=adapter,
        template=template,
        auto_batch=auto_batch,
        auto_min_spearman=auto_min_spearman,
        auto_min_decided_agreement=auto_min_decided_agreement,
    )
    settings = load_settings(**{k: v for k, v in given.items() if v is not None})
    if settings.model is None:
        from ecomrel.errors import ConfigError

        raise ConfigError("--model (env ECOMREL_SERVE_MODEL) is required: a distill, ONNX or student folder")
    _log_backend_choice()
    run_server(settings)


def _log_backend_choice() -> None:
    """``--backend auto`` logs its choice (logger ``ecomrel.serve``) to stderr before uvicorn starts."""
    import logging

    log = logging.getLogger("ecomrel.serve")
    if not log.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s:     %(message)s"))
        log.addHandler(handler)
    log.setLevel(logging.INFO)
