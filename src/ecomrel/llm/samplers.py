"""Generation for the training stages: greedy, beam-search top-k (LREF) and pass@N sampling (TaoSR1).

Every sampler returns one row per generated answer, already parsed
(:mod:`ecomrel.llm.parsing`): ``prompt_idx, rank, text, score, grade, reasoning,
malformed, reason``. ``score`` is the answer's log-probability: the beam's length-normalized
score for beam search (transformers' ``sequences_scores``), the summed token log-probs
under the sampling distribution otherwise. Malformed answers are kept and flagged.

- :func:`beam_topk` — LREF's DPO pairs: a wrong (usually over-optimistic) top beam is the
  rejected answer; a correct answer lower in the beam is the chosen one.
- :func:`pass_at_n` — TaoSR1's pass@N: N samples at a temperature; prompts whose samples
  disagree are the informative ones for DPO pairs and GRPO's difficulty-based sampling
  (:func:`pass_at_n_summary`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch

from ecomrel.grades import DEFAULT_SCALE, GradeScale
from ecomrel.llm.parsing import parse_many
from ecomrel.llm.prompts import encode

COLUMNS = ["prompt_idx", "rank", "text", "score", "grade", "reasoning", "malformed", "reason"]


def _left_padded(
    seqs: Sequence[Sequence[int]], pad: int, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for i, s in enumerate(seqs):  # decoder-only generation needs left padding
        ids[i, width - len(s) :] = torch.tensor(s)
        mask[i, width - len(s) :] = 1
    return ids.to(device), mask.to(device)


@contextlib.contextmanager
def seeded_rng(seed: int | None, device: torch.device) -> Iterator[None]:
    """Seed torch's sampling RNG for the block only: the caller's global RNG state is restored
    afterwards (``torch.random.fork_rng``), so a seeded sampler never reseeds anyone else's
    randomness. ``None`` leaves the RNG alone. transformers' ``generate`` draws from the global
    generator (it takes no ``torch.Generator``), hence the fork rather than a local generator."""
    if seed is None:
        yield
        return
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices, device_type=device.type if devices else "cuda"):
        torch.manual_seed(seed)
        yield


@torch.inference_mode()
def generate(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[str],
    *,
    num_return_sequences: int = 1,
    do_sample: bool = False,
    num_beams: int = 1,
    temperature: float = 1.0,
    top_p: float = 1.0,
    max_new_tokens: int = 64,
    min_new_tokens: int = 0,
    length_penalty: float = 1.0,
    batch_size: int = 8,
    seed: int | None = None,
    scale: GradeScale = DEFAULT_SCALE,
) -> pd.DataFrame:
    """Generate and parse answers for rendered prompts (see module docstring for the columns).

    Prompts are batched in order of token length (least left padding); rows come back in prompt
    order. ``min_new_tokens`` suppresses EOS until that many tokens exist (fixed-length answers).
    """
    from transformers import GenerationConfig

    if num_return_sequences > max(num_beams, 1) and not do_sample:
        raise ValueError("without sampling, num_return_sequences cannot exceed num_beams")
    device = next(model.parameters()).device
    eos = tokenizer.eos_token_id
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos
    cfg_kwargs: dict[str, Any] = {
        "max_new_tokens": max_new_tokens,
        "min_new_tokens": min_new_tokens,
        "do_sample": do_sample,
        "num_beams": num_beams,
        "num_return_sequences": num_return_sequences,
        "eos_token_id": eos,
        "pad_token_id": pad,
        "return_dict_in_generate": True,
        "output_scores": True,
    }
    if do_sample:
        cfg_kwargs.update(temperature=temperature, top_p=top_p, top_k=0)
    if num_beams > 1:
        cfg_kwargs.update(length_penalty=length_penalty, early_stopping=True)
    gen_config = GenerationConfig(**cfg_kwargs)
    texts: list[str] = []
    scores: list[float] = []
    idx: list[int] = []
    ranks: list[int] = []
    seqs = [encode(tokenizer, p) for p in prompts]
    order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))
    with seeded_rng(seed, device):
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            ids, mask = _left_padded([seqs[i] for i in chunk], pad, device)
            out = model.generate(input_ids=ids, attention_mask=mask, generation_config=gen_config)
            new = out.sequences[:, ids.shape[1] :]
            if num_beams > 1 and not do_sample:
                seq_scores = out.sequences_scores.float().cpu().numpy()
            else:
                trans = model.compute_transition_scores(out.sequences, out.scores, normalize_logits=True)
                valid = (new != pad) if pad != eos else torch.ones_like(new, dtype=torch.bool)
                if pad == eos:  # keep the first EOS, drop the padding after it
                    after_eos = (new == eos).long().cumsum(-1) - (new == eos).long()
                    valid = after_eos == 0
                trans = torch.where(valid & torch.isfinite(trans), trans, torch.zeros_like(trans))
                seq_scores = trans.sum(-1).float().cpu().numpy()
            decoded = tokenizer.batch_decode(new, skip_special_tokens=True)
            for j, text in enumerate(decoded):
                idx.append(chunk[j // num_return_sequences])
                ranks.append(j % num_return_sequences)
                texts.append(text)
                scores.append(float(seq_scores[j]))
    parsed = parse_many(texts, scale)
    df = pd.DataFrame({"prompt_idx": idx, "rank": ranks, "text": texts, "score": scores})
    df = pd.concat([df, parsed.drop(columns=["raw"])], axis=1)
    if num_beams > 1 and not do_sample:  # beams come back best first already; make it explicit
        df = df.sort_values(["prompt_idx", "score"], ascending=[True, False], kind="stable")
        df["rank"] = df.groupby("prompt_idx").cumcount()
    else:
        df = df.sort_values(["prompt_idx", "rank"], kind="stable")
    df = df.reset_index(drop=True)
    return df[COLUMNS]


def greedy(
    model: Any, tokenizer: Any, prompts: Sequence[str], max_new_tokens: int = 64, **kw: Any
) -> pd.DataFrame:
    """One greedy answer per prompt."""
    return generate(model, tokenizer, prompts, max_new_tokens=max_new_tokens, **kw)


def beam_topk(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[str],
    k: int = 4,
    num_beams: int | None = None,
    max_new_tokens: int = 64,
    **kw: Any,
) -> pd.DataFrame:
    """The top-``k`` beams per prompt with their sequence scores, best first (``rank`` 0)."""
    beams = max(k, num_beams or k)
    return generate(
        model,
        tokenizer,
        prompts,
        num_beams=beams,
        num_return_sequences=k,
        max_new_tokens=max_new_tokens,
        **kw,
    )


def pass_at_n(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[str],
    n: int = 8,
    temperature: float = 0.8,
    top_p: float = 1.0,
    seed: int | None = 0,
    max_new_tokens: int = 64,
    **kw: Any,
) -> pd.DataFrame:
    """``n`` sampled answers per prompt at ``temperature`` (TaoSR1's pass@N)."""
    if temperature <= 0:
        raise ValueError("pass@N needs a positive temperature")
    return generate(
        model,
        tokenizer,
        prompts,
        do_sample=True,
        num_return_sequences=n,
        temperature=temperature,
        top_p=top_p,
        seed=seed,
        max_new_tokens=max_new_tokens,
        **kw,
    )


def pass_at_n_summary(samples: pd.DataFrame, gold: Sequence[int] | None = None) -> pd.DataFrame:
    """Per prompt: sample count, malformed count, distinct grades, majority grade; with ``gold``
    also the number correct, pass@N (any correct) and whether the group is informative
    (some right and some wrong: GRPO's difficulty filter keeps only those)."""
    rows = []
    for p, g in samples.groupby("prompt_idx", sort=True):
        grades = g["grade"].dropna().astype(int).to_numpy()
        row: dict[str, Any] = {
            "prompt_idx": int(p),
            "n": int(len(g)),
            "malformed": int(g["malformed"].sum()),
            "distinct_grades": int(len(np.unique(grades))),
            "majority_grade": int(np.bincount(grades).argmax()) if len(grades) else None,
        }
        if gold is not None:
            correct = int((grades == int(gold[int(p)])).sum())
            row.update(correct=correct, passed=correct > 0, informative=0 < correct < len(g))
        rows.append(row)
    return pd.DataFrame(rows)
