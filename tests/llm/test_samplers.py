"""Greedy, beam top-k and pass@N return parsed answers for every prompt, malformed ones included."""

from __future__ import annotations

import pytest

from ecomrel.llm.prompts import prompts_for_pairs
from ecomrel.llm.samplers import COLUMNS, beam_topk, greedy, pass_at_n, pass_at_n_summary


@pytest.fixture(scope="module")
def prompts(tiny_tokenizer, make_pairs):
    return prompts_for_pairs(make_pairs().head(3), tiny_tokenizer)


def test_greedy(tiny_model, tiny_tokenizer, prompts):
    out = greedy(tiny_model, tiny_tokenizer, prompts, max_new_tokens=6, batch_size=2)
    assert list(out.columns) == COLUMNS
    assert list(out["prompt_idx"]) == [0, 1, 2] and (out["rank"] == 0).all()
    assert (out["score"] <= 0).all()
    assert out["malformed"].sum() + out["grade"].notna().sum() == 3  # every answer accounted for
    again = greedy(tiny_model, tiny_tokenizer, prompts, max_new_tokens=6, batch_size=3)
    assert list(again["text"]) == list(out["text"])  # batching does not change greedy answers
    reversed_ = greedy(tiny_model, tiny_tokenizer, prompts[::-1], max_new_tokens=6, batch_size=2)
    assert list(reversed_["text"]) == list(out["text"])[::-1]  # rows follow the prompts, not the batches


def test_min_new_tokens_fixes_the_answer_length(tiny_model, tiny_tokenizer, prompts):
    out = greedy(tiny_model, tiny_tokenizer, prompts, max_new_tokens=7, min_new_tokens=7)
    lengths = [len(tiny_tokenizer(t, add_special_tokens=False)["input_ids"]) for t in out["text"]]
    assert all(n >= 5 for n in lengths)  # 7 generated ids, decoded text may merge a few


def test_beam_topk_sorted(tiny_model, tiny_tokenizer, prompts):
    out = beam_topk(tiny_model, tiny_tokenizer, prompts, k=3, max_new_tokens=5)
    assert len(out) == 9
    for _, g in out.groupby("prompt_idx"):
        assert list(g["rank"]) == [0, 1, 2]
        assert list(g["score"]) == sorted(g["score"], reverse=True)


def test_pass_at_n_seeded(tiny_model, tiny_tokenizer, prompts):
    a = pass_at_n(tiny_model, tiny_tokenizer, prompts, n=4, temperature=1.0, seed=0, max_new_tokens=4)
    b = pass_at_n(tiny_model, tiny_tokenizer, prompts, n=4, temperature=1.0, seed=0, max_new_tokens=4)
    assert len(a) == 12 and list(a["text"]) == list(b["text"])
    s = pass_at_n_summary(a, gold=[0, 1, 2])
    assert list(s.columns[:5]) == ["prompt_idx", "n", "malformed", "distinct_grades", "majority_grade"]
    assert (s["n"] == 4).all() and {"correct", "passed", "informative"} <= set(s.columns)
    with pytest.raises(ValueError):
        pass_at_n(tiny_model, tiny_tokenizer, prompts, temperature=0)


def test_seeded_sampling_leaves_the_global_rng_alone(tiny_model, tiny_tokenizer, prompts):
    import torch

    torch.manual_seed(1234)
    before = torch.get_rng_state()
    expected = torch.rand(3)
    torch.set_rng_state(before)
    pass_at_n(tiny_model, tiny_tokenizer, prompts, n=2, temperature=1.0, seed=7, max_new_tokens=3)
    assert torch.equal(torch.get_rng_state(), before)  # the sampler's seed did not leak out
    assert torch.equal(torch.rand(3), expected)
