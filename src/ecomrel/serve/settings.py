"""Service settings: model, backend, network, API key, request limits and micro-batching.

``ServeSettings`` is a pydantic-settings model: every field can also come from an environment
variable ``ECOMREL_SERVE_<FIELD>`` (``ECOMREL_SERVE_PORT=9000``, ``ECOMREL_SERVE_MAX_BODY_BYTES=1000000``);
arguments given to the constructor (the ``ecomrel serve`` options) win over the environment.
:func:`load_settings` is the one-line-error front door the CLI uses.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from ecomrel.errors import ConfigError

ENV_PREFIX = "ECOMREL_SERVE_"


class ServeSettings(BaseSettings):
    """Everything ``create_app`` and ``ecomrel serve`` need. Limits are enforced by the request schemas."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid")

    model: Path | None = Field(
        None,
        description="Model folder: a distill output (model/ + onnx/), an ONNX export, or a torch student.",
    )
    backend: str = Field(
        "auto",
        description="auto (the fastest measured variant passing the fidelity bars) | onnx-int8 | "
        "onnx-int8-plain | onnx-fp32 | openvino | openvino-int8 | torch-bf16 | torch | llm "
        "(see available_backends()).",
    )
    auto_batch: int | None = Field(
        None, ge=1, description="Batch size --backend auto optimises for (default: max_batch)."
    )
    auto_min_spearman: float = Field(
        0.995, ge=-1, le=1, description="auto: least Spearman of the expected grade vs torch fp32."
    )
    auto_min_decided_agreement: float = Field(
        1.0, ge=0, le=1, description="auto: least argmax agreement with torch fp32 on decided pairs."
    )
    host: str = Field("127.0.0.1", description="Bind address.")
    port: int = Field(8000, ge=0, le=65535, description="Bind port (0: any free port).")
    api_key_env: str | None = Field(
        None, description="Name of the environment variable that holds the API key; unset = no auth."
    )
    threads: int = Field(1, ge=1, description="Model inference threads (ONNX Runtime intra-op / torch).")
    max_body_bytes: int = Field(
        4 * 1024 * 1024,
        ge=1,
        description="Largest request body in bytes; larger ones get 413 before the body is read.",
    )
    max_pairs: int = Field(256, ge=1, description="Most pairs in one /v1/relevance request.")
    max_candidates: int = Field(200, ge=1, description="Most candidates in one /v1/rank request.")
    max_query_chars: int = Field(512, ge=1, description="Longest query, in characters.")
    max_text_chars: int = Field(4000, ge=1, description="Longest product text field, in characters.")
    max_attributes: int = Field(64, ge=0, description="Most attributes per product.")
    max_batch: int = Field(64, ge=1, description="Micro-batch: most pairs per model call.")
    max_wait_ms: float = Field(
        5.0, ge=0, description="Micro-batch: longest wait for more requests to join a batch."
    )
    max_queue_pairs: int = Field(20_000, ge=1, description="Pairs waiting beyond this are refused with 503.")
    graceful_timeout_s: float = Field(30.0, ge=0, description="Shutdown: time given to in-flight requests.")
    llm_batch_size: int = Field(8, ge=1, description="Batch size of the LLM scorer backend.")
    adapter: Path | None = Field(
        None, description="LoRA adapter folder for the llm backend (the trained judge)."
    )
    template: str | None = Field(
        None,
        description="llm backend: the prompt template the judge was trained with (built-in name such as "
        "judge_title, or a YAML file; default judge_v1).",
    )

    def backend_options(self) -> dict[str, Any]:
        """What ``load_backend`` needs beyond name, model and threads (the auto choice's batch and bars)."""
        return {
            "llm_batch_size": self.llm_batch_size,
            "adapter": self.adapter,
            "template": self.template,
            "max_batch": self.max_batch,
            "auto_batch": self.auto_batch,
            "auto_min_spearman": self.auto_min_spearman,
            "auto_min_decided_agreement": self.auto_min_decided_agreement,
        }

    def api_key(self) -> str | None:
        """The key from ``api_key_env``; a configured but empty/unset variable is an error, not 'open'."""
        if not self.api_key_env:
            return None
        key = os.environ.get(self.api_key_env, "")
        if not key:
            raise ConfigError(f"--api-key-env {self.api_key_env}: environment variable is not set or empty")
        return key


def option_name(field: str) -> str:
    """The ``ecomrel serve`` option and environment variable of a settings field."""
    return f"--{field.replace('_', '-')} (env {ENV_PREFIX}{field.upper()})"


def load_settings(**given: Any) -> ServeSettings:
    """``ServeSettings(**given)`` (plus the environment); a one-line ``ConfigError`` naming the option."""
    try:
        return ServeSettings(**given)
    except ValidationError as exc:
        problems = []
        for e in exc.errors():
            field = str(e["loc"][0]) if e.get("loc") else "settings"
            value = f" = {e['input']!r}" if "input" in e and not isinstance(e["input"], dict) else ""
            problems.append(f"{option_name(field)}{value}: {e['msg']}")
        raise ConfigError("serve: " + "; ".join(problems)) from None
