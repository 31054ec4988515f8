"""The LLM judge: model loading, label-first prompts, grade probabilities, CumPT tiers, samplers.

One module, one job:

- :mod:`~ecomrel.llm.models` — ``load_model``: built-in SmolLM2 (GGUF → cached safetensors),
  local folders, hub ids (offline), LoRA adapters; thread count set on purpose.
- :mod:`~ecomrel.llm.prompts` — ``render_prompt`` / ``completion_text``: label-first prompts
  from package-data templates through the chat template; grade-token checks.
- :mod:`~ecomrel.llm.scorer` — ``score_pairs``: p_0..p_3 from one forward pass, query-prefix sharing.
- :mod:`~ecomrel.llm.cumpt` — CumPT tiers (TaoSR1) and threshold tuning.
- :mod:`~ecomrel.llm.samplers` / :mod:`~ecomrel.llm.parsing` — greedy, beam top-k, pass@N; robust parsing.
- :mod:`~ecomrel.llm.judge` — ``run_judge``: resumable batch judging into a prediction file;
  :mod:`~ecomrel.llm.ray_backend` and :mod:`~ecomrel.llm.vllm_backend` run the same batch function.

Names are imported lazily so that ``import ecomrel.llm`` does not import torch.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "load_model": "models",
    "render_prompt": "prompts",
    "completion_text": "prompts",
    "grade_tokens": "prompts",
    "score_pairs": "scorer",
    "CumPT": "cumpt",
    "tune": "cumpt",
    "parse_answer": "parsing",
    "greedy": "samplers",
    "beam_topk": "samplers",
    "pass_at_n": "samplers",
    "run_judge": "judge",
    "JudgeConfig": "judge_config",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(f"ecomrel.llm.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'ecomrel.llm' has no attribute {name!r}")
