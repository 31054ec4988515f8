"""Grade probabilities from one forward pass, with query-prefix sharing (TaoSR1's serving path).

Because the answer is label-first, the grade is the first answer token: the logits of the
grade tokens at the answer position, renormalized (softmax over those K tokens only), give
``p_0..p_{K-1}``; the expected grade ``Σ k·p_k`` is the continuous score. No generation.

Batches are sorted by length and padded only to their own longest row (left or right
padding; position ids follow the real tokens, and the answer position is each row's last
real token). With ``share_prefix=True`` the prompt tokens that all rows share (the system
text) are encoded once, then, per query, the tokens its products share (the query) are
encoded once on top, and every product suffix is scored against that KV cache, expanded
across a batch of the query's products. Shared and unshared paths agree within float
rounding (tested at 1e-4).

:func:`score_pairs` is a pure function of a batch of rows, so Ray Data ``map_batches`` can
call it (:mod:`ecomrel.llm.ray_backend`).
"""

from __future__ import annotations

import functools
import inspect
import os
import weakref
from collections.abc import Callable, Hashable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch

from ecomrel.grades import DEFAULT_SCALE, GradeScale
from ecomrel.llm.prompts import (
    DEFAULT_TEMPLATE,
    GradeTokens,
    PromptTemplate,
    encode,
    grade_tokens,
    load_template,
    prompts_for_pairs,
)

Progress = Callable[[int], None]
KV = list[tuple[torch.Tensor, torch.Tensor]]

_GRADE_TOKENS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def cached_grade_tokens(tokenizer: Any, scale: GradeScale, template: PromptTemplate) -> GradeTokens:
    """:func:`ecomrel.llm.prompts.grade_tokens`, remembered per tokenizer (checked once per load)."""
    try:
        per_tok = _GRADE_TOKENS.setdefault(tokenizer, {})
    except TypeError:  # not weak-referenceable
        return grade_tokens(tokenizer, scale, template)
    key = (template.name, template.system, template.user, template.max_prompt_tokens, scale.names)
    if key not in per_tok:
        per_tok[key] = grade_tokens(tokenizer, scale, template)
    return per_tok[key]


def _decoder_and_head(model: Any) -> tuple[Any, Any]:
    """The transformer body and the LM head, so the head runs on the answer positions only."""
    try:
        decoder, head = model.get_decoder(), model.get_output_embeddings()
    except (AttributeError, NotImplementedError):
        return None, None
    if decoder is None or head is None or decoder is model:
        return None, None
    return decoder, head


def _device(model: Any) -> torch.device:
    return next(model.parameters()).device


def _make_cache(model: Any, kv: KV | None, batch: int) -> Any:
    """A fresh DynamicCache holding ``kv`` (batch 1) expanded to ``batch`` rows; ``kv`` is never mutated."""
    from transformers import DynamicCache

    if kv is None:
        return DynamicCache(config=model.config)
    data = [(k.expand(batch, -1, -1, -1), v.expand(batch, -1, -1, -1)) for k, v in kv]
    return DynamicCache(ddp_cache_data=data, config=model.config)


def _softcap(model: Any, logits: torch.Tensor) -> torch.Tensor:
    cap = getattr(getattr(model, "config", None), "final_logit_softcapping", None)
    return torch.tanh(logits / cap) * cap if cap else logits


@functools.cache
def _cache_kwarg_of(cls: type) -> str:
    params = inspect.signature(cls.forward).parameters
    return "cache" if "cache" in params else "past_key_values"


def _cache_kwarg(module: Any) -> str:
    """transformers 5.24 renamed ``past_key_values`` to ``cache`` (the old name warns); older
    architectures still take ``past_key_values``."""
    return _cache_kwarg_of(type(module))


@torch.inference_mode()
def _forward(
    model: Any,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    position_ids: torch.Tensor,
    past: Any,
    last_idx: torch.Tensor | None,
    grade_ids: torch.Tensor | None,
) -> torch.Tensor | None:
    """Run the model; return grade logits at ``last_idx`` (or None when only the cache is wanted)."""
    decoder, head = _decoder_and_head(model)
    # With a separable head, run the decoder and project only the answer positions; otherwise
    # take the full logits and pick the answer positions from them.
    module = decoder if decoder is not None else model
    out = module(
        input_ids=input_ids,
        attention_mask=attention_mask,
        position_ids=position_ids,
        use_cache=past is not None,
        **{_cache_kwarg(module): past},
    )
    if last_idx is None:
        return None
    rows = torch.arange(input_ids.shape[0], device=input_ids.device)
    if decoder is not None:
        logits = head(out.last_hidden_state[rows, last_idx])
    else:
        logits = out.logits[rows, last_idx]
    return _softcap(model, logits.float())[:, grade_ids]


def _pad(
    seqs: Sequence[Sequence[int]], pad_id: int, side: str, prefix_len: int, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(input_ids, attention_mask incl. prefix, position_ids, index of each row's last real token)."""
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for i, s in enumerate(seqs):
        if side == "left":
            ids[i, width - len(s) :] = torch.tensor(s)
            mask[i, width - len(s) :] = 1
        else:
            ids[i, : len(s)] = torch.tensor(s)
            mask[i, : len(s)] = 1
    positions = (mask.cumsum(-1) - 1).clamp(min=0) + prefix_len
    last = torch.tensor([width - 1 if side == "left" else len(s) - 1 for s in seqs])
    full_mask = torch.cat([torch.ones((len(seqs), prefix_len), dtype=torch.long), mask], dim=1)
    return ids.to(device), full_mask.to(device), positions.to(device), last.to(device)


def _prefill(model: Any, ids: Sequence[int], base: KV | None, base_len: int) -> KV:
    """KV of ``base`` + ``ids`` for one sequence (batch 1)."""
    device = _device(model)
    cache = _make_cache(model, base, 1)
    input_ids = torch.tensor([list(ids)], dtype=torch.long, device=device)
    mask = torch.ones((1, base_len + len(ids)), dtype=torch.long, device=device)
    positions = torch.arange(base_len, base_len + len(ids), device=device)[None]
    _forward(model, input_ids, mask, positions, cache, None, None)
    return [(layer.keys, layer.values) for layer in cache.layers]


def _common_prefix_len(seqs: Sequence[Sequence[int]]) -> int:
    n = min(len(s) for s in seqs)
    first = seqs[0]
    for i in range(n):
        t = first[i]
        if any(s[i] != t for s in seqs):
            return i
    return n


def _batched(order: Sequence[int], size: int) -> list[list[int]]:
    return [list(order[i : i + size]) for i in range(0, len(order), size)]


def grade_logprobs(
    model: Any,
    token_ids: Sequence[Sequence[int]],
    grade_ids: Sequence[int],
    batch_size: int = 16,
    groups: Sequence[Hashable] | None = None,
    share_prefix: bool = False,
    padding_side: str = "right",
    pad_id: int = 0,
    progress: Progress | None = None,
) -> np.ndarray:
    """Log-probabilities (N, K) of the grade tokens at each prompt's answer position, renormalized.

    ``groups`` (one key per row, e.g. the query) marks the rows whose prompts share a prefix;
    used only with ``share_prefix``. Rows are returned in input order.
    """
    if padding_side not in ("left", "right"):
        raise ValueError(f"padding_side must be 'left' or 'right', got {padding_side!r}")
    n = len(token_ids)
    out = np.zeros((n, len(grade_ids)), dtype=np.float64)
    if n == 0:
        return out
    if any(len(s) == 0 for s in token_ids):
        raise ValueError("an empty prompt cannot be scored")
    device = _device(model)
    gid = torch.tensor(list(grade_ids), dtype=torch.long, device=device)

    def run(rows: list[int], seqs: list[Sequence[int]], kv: KV | None, prefix_len: int) -> None:
        ids, mask, pos, last = _pad(seqs, pad_id, padding_side, prefix_len, device)
        past = _make_cache(model, kv, len(rows)) if kv is not None else None
        logits = _forward(model, ids, mask, pos, past, last, gid)
        out[rows] = torch.log_softmax(logits.double(), dim=-1).cpu().numpy()  # renormalised in float64
        if progress is not None:
            progress(len(rows))

    if not share_prefix:
        order = sorted(range(n), key=lambda i: len(token_ids[i]))
        for rows in _batched(order, batch_size):
            run(rows, [token_ids[i] for i in rows], None, 0)
        return out

    keys = list(groups) if groups is not None else [0] * n
    by_group: dict[Hashable, list[int]] = {}
    for i, k in enumerate(keys):
        by_group.setdefault(k, []).append(i)
    # level 1: what every row shares (system text), encoded once for the whole call
    shared = min(_common_prefix_len(token_ids), min(len(s) for s in token_ids) - 1)
    base = _prefill(model, token_ids[0][:shared], None, 0) if shared > 0 else None
    for rows_of_group in by_group.values():
        seqs = [token_ids[i] for i in rows_of_group]
        # level 2: what this query's products share (system + query); every suffix keeps >= 1 token
        plen = min(_common_prefix_len(seqs), min(len(s) for s in seqs) - 1)
        plen = max(plen, shared)
        kv = _prefill(model, seqs[0][shared:plen], base, shared) if plen > shared else base
        order = sorted(rows_of_group, key=lambda i: len(token_ids[i]))
        for rows in _batched(order, batch_size):
            run(rows, [token_ids[i][plen:] for i in rows], kv, plen)
    return out


def sharing_stats(token_ids: Sequence[Sequence[int]], groups: Sequence[Hashable]) -> dict[str, int]:
    """Tokens the model runs without and with prefix sharing (same plan as :func:`grade_logprobs`)."""
    if not token_ids:
        return {"tokens_unshared": 0, "tokens_shared": 0, "shared_prefix": 0}
    shared = min(_common_prefix_len(token_ids), min(len(s) for s in token_ids) - 1)
    by_group: dict[Hashable, list[Sequence[int]]] = {}
    for ids, g in zip(token_ids, groups, strict=True):
        by_group.setdefault(g, []).append(ids)
    total = max(shared, 0)
    for seqs in by_group.values():
        plen = max(min(_common_prefix_len(seqs), min(len(s) for s in seqs) - 1), shared)
        total += (plen - shared) + sum(len(s) - plen for s in seqs)
    return {
        "tokens_unshared": int(sum(len(s) for s in token_ids)),
        "tokens_shared": int(total),
        "shared_prefix": int(max(shared, 0)),
    }


def score_prompts(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[str],
    grade_ids: Sequence[int],
    batch_size: int = 16,
    groups: Sequence[Hashable] | None = None,
    share_prefix: bool = False,
    padding_side: str | None = None,
    progress: Progress | None = None,
) -> np.ndarray:
    """Grade probabilities (N, K) for already-rendered prompts."""
    side = padding_side or os.environ.get("ECOMREL_PADDING_SIDE") or "right"
    ids = [encode(tokenizer, p) for p in prompts]
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else (tokenizer.eos_token_id or 0)
    logp = grade_logprobs(model, ids, grade_ids, batch_size, groups, share_prefix, side, pad_id, progress)
    return np.exp(logp)


def probabilities_frame(probs: np.ndarray, index: pd.Index | None = None) -> pd.DataFrame:
    """``p_0..p_{K-1}``, ``expected_grade`` (Σ k·p_k) and ``pred_grade`` (argmax) from a (N, K) array."""
    k = probs.shape[1]
    df = pd.DataFrame(probs, columns=[f"p_{g}" for g in range(k)], index=index)
    df["expected_grade"] = probs @ np.arange(k, dtype=np.float64)
    df["pred_grade"] = probs.argmax(axis=1).astype(np.int64) if len(probs) else np.zeros(0, dtype=np.int64)
    return df


def score_pairs(
    model: Any,
    tokenizer: Any,
    pairs_df: pd.DataFrame,
    batch_size: int = 16,
    share_prefix: bool = False,
    scale: GradeScale = DEFAULT_SCALE,
    template: PromptTemplate | str | None = None,
    padding_side: str | None = None,
    progress: Progress | None = None,
) -> pd.DataFrame:
    """Grade probabilities for every row of ``pairs_df`` (a ``query`` column + product fields).

    Returns a frame on the same index with ``query_id``/``product_id`` when present, then
    ``p_0..p_{K-1}``, ``expected_grade`` and ``pred_grade``. Pure over the batch: safe for
    Ray ``map_batches``. With ``share_prefix`` rows are grouped by ``query``.
    """
    tpl = template if isinstance(template, PromptTemplate) else load_template(template or DEFAULT_TEMPLATE)
    gt = cached_grade_tokens(tokenizer, scale, tpl)
    prompts = prompts_for_pairs(pairs_df, tokenizer, scale, tpl)
    groups = pairs_df["query"].astype(str).tolist()
    probs = score_prompts(
        model, tokenizer, prompts, gt.ids, batch_size, groups, share_prefix, padding_side, progress
    )
    keys = pairs_df[[c for c in ("query_id", "product_id") if c in pairs_df.columns]]
    return pd.concat([keys, probabilities_frame(probs, pairs_df.index)], axis=1)
