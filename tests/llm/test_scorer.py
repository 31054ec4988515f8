"""Grade probabilities from one forward pass; prefix sharing and padding give the same numbers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ecomrel.llm.prompts import encode, grade_tokens, prompts_for_pairs
from ecomrel.llm.scorer import grade_logprobs, score_pairs

P = [f"p_{g}" for g in range(4)]


@pytest.fixture(scope="module")
def reference(tiny_model, tiny_tokenizer, make_pairs):
    df = make_pairs()
    return df, score_pairs(tiny_model, tiny_tokenizer, df, batch_size=4)


def test_columns_and_distribution(reference):
    df, out = reference
    assert list(out.columns) == ["query_id", "product_id", *P, "expected_grade", "pred_grade"]
    assert out.index.equals(df.index) and (out["product_id"] == df["product_id"]).all()
    probs = out[P].to_numpy()
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-9)
    np.testing.assert_allclose(out["expected_grade"], probs @ np.arange(4))
    assert (out["pred_grade"] == probs.argmax(1)).all()
    assert probs.std(0).max() > 1e-3  # rows differ: the scorer reads each row's own answer position


def test_matches_a_plain_full_forward(reference, tiny_model, tiny_tokenizer):
    df, out = reference
    gid = list(grade_tokens(tiny_tokenizer).ids)
    prompt = prompts_for_pairs(df.iloc[[3]], tiny_tokenizer)[0]
    with torch.no_grad():
        logits = tiny_model(torch.tensor([encode(tiny_tokenizer, prompt)])).logits[0, -1, gid]
    np.testing.assert_allclose(out.loc[3, P].to_numpy(float), torch.softmax(logits, -1).numpy(), atol=1e-5)


@pytest.mark.parametrize("share", [False, True])
@pytest.mark.parametrize("side", ["left", "right"])
@pytest.mark.parametrize("batch_size", [1, 3, 16])
def test_prefix_sharing_and_padding_agree(reference, tiny_model, tiny_tokenizer, share, side, batch_size):
    df, ref = reference
    out = score_pairs(
        tiny_model, tiny_tokenizer, df, batch_size=batch_size, share_prefix=share, padding_side=side
    )
    assert np.abs(out[P].to_numpy() - ref[P].to_numpy()).max() < 1e-4


def test_shuffled_rows_keep_their_scores(reference, tiny_model, tiny_tokenizer):
    df, ref = reference
    shuffled = df.sample(frac=1.0, random_state=1)
    out = score_pairs(tiny_model, tiny_tokenizer, shuffled, batch_size=5, share_prefix=True)
    assert np.abs(out.loc[df.index, P].to_numpy() - ref[P].to_numpy()).max() < 1e-4


def test_identical_prompts_and_singletons(tiny_model, tiny_tokenizer):
    # duplicate rows (empty suffix after the common prefix) and one-product queries
    ids = [[5, 6, 7, 8, 9], [5, 6, 7, 8, 9], [5, 6, 7, 10], [11, 12]]
    gid = list(grade_tokens(tiny_tokenizer).ids)
    a = grade_logprobs(tiny_model, ids, gid, batch_size=2)
    b = grade_logprobs(tiny_model, ids, gid, batch_size=2, groups=["q", "q", "q", "r"], share_prefix=True)
    assert np.abs(np.exp(a) - np.exp(b)).max() < 1e-4
    np.testing.assert_allclose(a[0], a[1])


def test_empty_frame(tiny_model, tiny_tokenizer, make_pairs):
    out = score_pairs(tiny_model, tiny_tokenizer, make_pairs().head(0))
    assert len(out) == 0 and "p_3" in out.columns


def test_missing_query_column(tiny_model, tiny_tokenizer, make_pairs):
    with pytest.raises(ValueError, match="query"):
        score_pairs(tiny_model, tiny_tokenizer, make_pairs().drop(columns="query"))


def test_lora_wrapped_model_and_sharing_stats(tiny_tokenizer, make_pairs, tiny_model_factory):
    from peft import LoraConfig, get_peft_model

    from ecomrel.llm.scorer import sharing_stats

    model = get_peft_model(
        tiny_model_factory(), LoraConfig(r=2, target_modules=["q_proj"], init_lora_weights=False)
    )
    df = make_pairs(n_queries=2, per_query=3)
    a = score_pairs(model, tiny_tokenizer, df, batch_size=2)
    b = score_pairs(model, tiny_tokenizer, df, batch_size=2, share_prefix=True)
    assert np.abs(a[P].to_numpy() - b[P].to_numpy()).max() < 1e-4
    ids = [encode(tiny_tokenizer, p) for p in prompts_for_pairs(df, tiny_tokenizer)]
    stats = sharing_stats(ids, df["query"].tolist())
    assert stats["tokens_unshared"] == sum(map(len, ids)) > 2 * stats["tokens_shared"] > 0
