"""The vLLM path: runs only where vLLM and a CUDA GPU are present."""

from __future__ import annotations

import numpy as np
import pytest

from ecomrel.llm.vllm_backend import vllm_available

ok, why = vllm_available()
pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not ok, reason=why)]


def test_vllm_matches_torch_scorer(tiny_model, tiny_tokenizer, tiny_model_dir, make_pairs):
    from ecomrel.llm.scorer import score_pairs
    from ecomrel.llm.vllm_backend import VLLMJudge

    pairs = make_pairs(n_queries=2, per_query=4)
    ref = score_pairs(tiny_model, tiny_tokenizer, pairs)
    out = VLLMJudge(
        str(tiny_model_dir), gpu_memory_utilization=0.2, max_model_len=1024, dtype="float32"
    ).score(pairs)
    p = [f"p_{g}" for g in range(4)]
    assert list(out["product_id"]) == list(pairs["product_id"])
    assert np.abs(out[p].to_numpy() - ref[p].to_numpy()).max() < 1e-3
