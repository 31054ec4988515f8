"""Batch judging on GPUs with vLLM (extra ``[vllm]``, vLLM >= 0.10.2): grade-token log-probabilities.

Same prompts, same grade tokens and same output columns as :func:`ecomrel.llm.scorer.score_pairs`.
Each pair is one request for a single new token with

- ``allowed_token_ids`` = the grade tokens and ``logprobs`` = their number, on an engine
  started with ``logprobs_mode="processed_logprobs"``: the returned log-probabilities are
  taken after the allow-list masks every other token, so they are exactly the log-softmax
  over the grade tokens (renormalized again here against rounding);
- ``enable_prefix_caching=True``: vLLM reuses the KV blocks of the prompt prefix that a
  query's products share (the system text and the query), the GPU counterpart of
  ``share_prefix``; requests are submitted grouped by query so shared blocks stay hot.

Prompts are tokenized here with the Hugging Face tokenizer and passed as token ids, so
vLLM sees exactly the tokens the CPU scorer sees. A LoRA adapter is served with vLLM's LoRA
support (``enable_lora``), not merged.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ecomrel.errors import MissingDependencyError
from ecomrel.grades import DEFAULT_SCALE, GradeScale
from ecomrel.llm.prompts import DEFAULT_TEMPLATE, encode, grade_tokens, load_template, prompts_for_pairs


def vllm_available() -> tuple[bool, str]:
    """(usable, reason): vLLM needs the package and a CUDA device."""
    try:
        import vllm  # noqa: F401
    except ImportError:
        return False, "vllm is not installed (pip install 'ecomrel[vllm]')"
    try:
        import torch

        if not torch.cuda.is_available():
            return False, "vLLM needs a CUDA GPU and none is visible"
    except ImportError:
        return False, "torch is not installed"
    return True, ""


class VLLMJudge:
    """A vLLM engine holding the judge; :meth:`score` maps a pairs frame to grade probabilities."""

    def __init__(
        self,
        model: str = "smollm2",
        adapter: str | Path | None = None,
        template: str = DEFAULT_TEMPLATE,
        scale: GradeScale = DEFAULT_SCALE,
        gpu_memory_utilization: float = 0.85,
        max_model_len: int = 2048,
        dtype: str = "auto",
        **engine_kwargs: Any,
    ) -> None:
        ok, why = vllm_available()
        if not ok:
            raise MissingDependencyError(why)
        from transformers import AutoTokenizer
        from vllm import LLM

        from ecomrel.llm.models import resolve_model

        path, _ = resolve_model(model)
        self.tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        self.template = load_template(template)
        self.scale = scale
        self.grade_ids = list(grade_tokens(self.tokenizer, scale, self.template).ids)
        self.lora = None
        kwargs: dict[str, Any] = dict(
            model=path,
            tokenizer=path,
            enable_prefix_caching=True,
            logprobs_mode="processed_logprobs",
            gpu_memory_utilization=gpu_memory_utilization,
            max_model_len=max_model_len,
            dtype=dtype,
        )
        if adapter is not None:
            from vllm.lora.request import LoRARequest

            kwargs.update(enable_lora=True)
            self.lora = LoRARequest("ecomrel-judge", 1, str(adapter))
        kwargs.update(engine_kwargs)
        self.llm = LLM(**kwargs)

    def _params(self) -> Any:
        from vllm import SamplingParams

        return SamplingParams(
            max_tokens=1,
            temperature=0.0,
            logprobs=len(self.grade_ids),
            allowed_token_ids=self.grade_ids,
        )

    def score(self, pairs: pd.DataFrame) -> pd.DataFrame:
        """Grade probabilities for a pairs frame; same columns as ``score_pairs``."""
        from vllm.inputs import TokensPrompt

        from ecomrel.llm.scorer import probabilities_frame

        order = np.argsort(
            pairs["query"].astype(str).to_numpy(), kind="stable"
        )  # co-schedule shared prefixes
        sorted_pairs = pairs.iloc[order]
        texts = prompts_for_pairs(sorted_pairs, self.tokenizer, self.scale, self.template)
        requests = [TokensPrompt(prompt_token_ids=encode(self.tokenizer, t)) for t in texts]
        outputs = self.llm.generate(requests, self._params(), lora_request=self.lora, use_tqdm=False)
        logp = np.full((len(outputs), len(self.grade_ids)), -np.inf)
        for r, out in enumerate(outputs):
            step = out.outputs[0].logprobs[0]  # {token_id: Logprob} at the answer position
            for k, tid in enumerate(self.grade_ids):
                if tid in step:
                    logp[r, k] = step[tid].logprob
        logp -= logp.max(axis=1, keepdims=True)
        probs = np.exp(logp)
        probs /= probs.sum(axis=1, keepdims=True)
        unsorted = np.empty_like(probs)
        unsorted[order] = probs
        keys = pairs[[c for c in ("query_id", "product_id") if c in pairs.columns]]
        return pd.concat([keys, probabilities_frame(unsorted, pairs.index)], axis=1)


def score_with_vllm(pairs: pd.DataFrame, model: str = "smollm2", **kwargs: Any) -> pd.DataFrame:
    """One-shot helper: start an engine, score ``pairs``, return the frame."""
    return VLLMJudge(model, **kwargs).score(pairs)
