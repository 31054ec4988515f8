"""SFT examples in trl's prompt-completion format, built from Multi-CoT chains.

prompt = the judge prompt rendered with the model's chat template (the same text the scorer reads),
plus, in the user message, the chain's ``prompt_extra``: the business rules for RA chains (LREF's
"(rule, q, i) → RA-CoT + label") or the wrong decision for DR chains ("(incorrect decision, q, i) →
DR-CoT + correct label"). completion = the label-first target (TaoSR1's post-CoT order: grade token
first, then the reasoning), so that training teaches the token the scorer reads at the answer
position. trl masks the prompt tokens (labels -100) and adds EOS to the completion.
"""

from __future__ import annotations

import inspect
import logging
import math
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd

from ecomrel.grades import GradeScale, ScaleSpec, get_scale

log = logging.getLogger(__name__)

EXAMPLE_COLUMNS = ["prompt", "completion", "kind", "query_id", "product_id", "gold_grade"]
DROPPED_STATUSES = ("drop", "reject", "invalid", "error")
"""Chain ``status`` values starting with one of these are not trained on (contradicting chains)."""


def grade_scale(name: ScaleSpec) -> GradeScale:
    """The scale a config names (:func:`ecomrel.grades.get_scale`)."""
    return get_scale(name)


def load_training_data(
    data: str | Path,
    split: str | None = "train",
    max_pairs: int | None = None,
    seed: int = 0,
    balance: bool = False,
    train_pairs: str | Path | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(judged pairs of one split with query text and product fields, whole product catalogue).

    The pairs are a seeded sample when ``max_pairs`` caps them; with ``balance`` the sample takes
    ``max_pairs / K`` pairs of each of the K grades (all of a grade that has fewer), so a short
    run does not learn the majority grade first; ``train_pairs`` (a Parquet of query_id, product_id,
    e.g. the selection's ``selected.parquet``) restricts the pairs first. The catalogue is what the
    chain builder's attribute analyst learns its vocabulary from.
    """
    from ecomrel.data.schema import Dataset

    ds = Dataset.load(data)
    if split and ds.splits is None:
        log.warning("%s has no splits.parquet: training on every judged pair", data)
    pairs = ds.pairs(split) if split and ds.splits is not None else ds.pairs()
    if train_pairs is not None:
        from ecomrel.data.pair_subset import restrict_to_pairs

        pairs = restrict_to_pairs(pairs, train_pairs)
    if balance and max_pairs is not None and len(pairs) > max_pairs:
        groups = list(pairs.groupby("grade", sort=True))
        per = max(1, max_pairs // len(groups))
        parts = [g.sample(n=min(per, len(g)), random_state=seed) for _, g in groups]
        pairs = pd.concat(parts).sample(frac=1.0, random_state=seed)  # grades interleaved
    elif max_pairs is not None and len(pairs) > max_pairs:
        pairs = pairs.sample(n=max_pairs, random_state=seed).sort_index()
    return pairs.reset_index(drop=True), ds.products


def load_pairs(data: str | Path, split: str | None = "train", max_pairs: int | None = None, seed: int = 0):
    """Judged pairs of one split joined with query text and product fields; a seeded sample if capped."""
    return load_training_data(data, split, max_pairs, seed)[0]


@cache
def _render_takes_extra() -> bool:
    from ecomrel.llm.prompts import render_prompt

    return "extra" in inspect.signature(render_prompt).parameters


_SENTINEL = "\x00ecomrel-user-end\x00"


def _user_turn_suffix(tokenizer) -> str:
    """The text a rendered prompt carries after the user message (end of turn + answer cue)."""
    from ecomrel.llm.prompts import DEFAULT_TEMPLATE, has_chat_template, load_template

    if has_chat_template(tokenizer):
        text = tokenizer.apply_chat_template(
            [{"role": "user", "content": _SENTINEL}], tokenize=False, add_generation_prompt=True
        )
        return text.split(_SENTINEL, 1)[1]
    return load_template(DEFAULT_TEMPLATE).plain_format.split("{user}", 1)[1]


def render_judge_prompt(
    query: str,
    product_row: dict[str, Any],
    tokenizer,
    scale: GradeScale,
    extra: str = "",
    template: str | None = None,
) -> str:
    """The scorer's prompt for one pair; ``extra`` (rules / wrong decision) ends the user message.

    Without ``extra`` this is exactly the prompt the scorer reads with the same ``template``
    (judge ``template``; None = the default), so SFT trains the grade token at the same answer
    position.
    """
    from ecomrel.llm.prompts import render_prompt

    if extra and _render_takes_extra():
        return render_prompt(query, product_row, tokenizer, scale, extra=extra, template=template)
    prompt = render_prompt(query, product_row, tokenizer, scale, template=template)
    if not extra:
        return prompt
    suffix = _user_turn_suffix(tokenizer)
    if not suffix or not prompt.endswith(suffix):
        raise ValueError(
            "cannot find the end of the user message in the rendered prompt to add rules/decision"
        )
    return f"{prompt[: len(prompt) - len(suffix)].rstrip()}\n\n{extra.strip()}{suffix}"


def target_text(grade: int, reasoning: str | None = None) -> str:
    """Label-first completion: the grade token first, then the reasoning (if any)."""
    from ecomrel.llm.prompts import completion_text

    return completion_text(int(grade), reasoning)


def usable_chains(chains: pd.DataFrame, kinds: Sequence[str] | None = None) -> pd.DataFrame:
    """Chains to train on: of the wanted kinds, non-empty target, not dropped by the consistency check."""
    needed = {"query_id", "product_id", "kind", "target"}
    missing = needed - set(chains.columns)
    if missing:
        raise ValueError(f"chains frame lacks column(s) {sorted(missing)}; has {list(chains.columns)}")
    keep = chains["target"].notna() & (chains["target"].astype(str).str.len() > 0)
    if kinds is not None:
        keep &= chains["kind"].isin(list(kinds))
    if "status" in chains.columns:
        status = chains["status"].fillna("ok").astype(str).str.lower()
        keep &= ~status.str.startswith(DROPPED_STATUSES)
    return chains[keep].reset_index(drop=True)


def _product_rows(pairs: pd.DataFrame) -> dict[tuple[str, str], dict[str, Any]]:
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for rec in pairs.to_dict("records"):
        clean = {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in rec.items()}
        rows[(str(rec["query_id"]), str(rec["product_id"]))] = clean
    return rows


def chain_examples(
    chains: pd.DataFrame,
    pairs: pd.DataFrame,
    tokenizer,
    scale: GradeScale,
    kinds: Sequence[str] | None = None,
    template: str | None = None,
):
    """prompt/completion examples from chains (``target`` is already label-first); a ``datasets.Dataset``."""
    chains = usable_chains(chains, kinds)
    rows = _product_rows(pairs)
    records = []
    for ch in chains.to_dict("records"):
        key = (str(ch["query_id"]), str(ch["product_id"]))
        row = rows.get(key)
        if row is None:
            raise ValueError(f"chain for query {key[0]!r}, product {key[1]!r} has no judged pair in the data")
        extra = ch.get("prompt_extra") or ""
        if isinstance(extra, float):  # NaN from Parquet
            extra = ""
        records.append(
            {
                "prompt": render_judge_prompt(
                    row["query"], row, tokenizer, scale, extra=str(extra), template=template
                ),
                "completion": str(ch["target"]),
                "kind": str(ch["kind"]),
                "query_id": key[0],
                "product_id": key[1],
                "gold_grade": int(ch.get("gold_grade", row.get("grade", -1))),
            }
        )
    return _to_dataset(records)


def label_only_examples(pairs: pd.DataFrame, tokenizer, scale: GradeScale, template: str | None = None):
    """The ablation baseline: completion = the human grade alone, no reasoning."""
    records = [
        {
            "prompt": render_judge_prompt(row["query"], row, tokenizer, scale, template=template),
            "completion": target_text(int(row["grade"])),
            "kind": "label",
            "query_id": str(row["query_id"]),
            "product_id": str(row["product_id"]),
            "gold_grade": int(row["grade"]),
        }
        for row in _product_rows(pairs).values()
    ]
    return _to_dataset(records)


def allocate_copies(probs: Sequence[float], copies: int) -> list[int]:
    """Integer counts summing to ``copies`` closest to ``copies · probs`` (largest remainder; ties go
    to the more probable grade, then the lower one)."""
    raw = [max(float(x), 0.0) * copies for x in probs]
    total = sum(max(float(x), 0.0) for x in probs)
    if total <= 0:
        raise ValueError("a grade distribution with no mass")
    raw = [x / total for x in raw]
    counts = [int(math.floor(x + 1e-9)) for x in raw]
    order = sorted(range(len(raw)), key=lambda g: (-(raw[g] - counts[g]), -raw[g], g))
    for g in order[: copies - sum(counts)]:
        counts[g] += 1
    return counts


def rater_label_examples(
    pairs: pd.DataFrame,
    tokenizer,
    scale: GradeScale,
    copies: int = 6,
    rater_scale: tuple[int, int] = (1, 3),
    template: str | None = None,
):
    """Label-only examples whose grades follow each pair's *rater distribution* (soft targets for SFT).

    The distribution is the one the distill student trains on (``targets: rater_distribution``,
    :mod:`ecomrel.train.losses.rater_targets`: the least-spread rater panel with the pair's
    ``raw_score`` mean, spread linearly onto the grades). SFT's loss is the cross-entropy of the
    completion tokens, so a pair becomes ``copies`` examples with the same prompt whose grade tokens
    are allotted by :func:`allocate_copies` — their summed loss on the grade token is ``copies`` times
    the soft cross-entropy against the (rounded) distribution. ``copies=6`` is exact for means in
    thirds (Home Depot's three raters: 2.33 → 2 complement, 2 substitute, 2 exact); quarter means
    are rounded to sixths. A pair without ``raw_score`` gets ``copies`` examples of its hard grade, so
    every pair weighs the same. ``kind`` is ``"rater"``; ``gold_grade`` is the hard grade. Write the
    result with :func:`save_examples` and train on it with the SFT config's ``examples:``.
    """
    from ecomrel.train.losses.rater_targets import rater_distribution

    if copies < 1:
        raise ValueError(f"copies must be >= 1, got {copies}")
    records = []
    for row in _product_rows(pairs).values():
        hard = int(row["grade"])
        raw = row.get("raw_score")
        raw = None if raw is None or pd.isna(raw) else float(raw)
        if raw is None:
            counts = [0] * scale.size
            counts[hard] = copies
        else:
            try:
                dist = rater_distribution(raw, scale.size, rater_scale)
            except ValueError as exc:
                raise ValueError(
                    f"pair ({row['query_id']}, {row['product_id']}): raw_score {raw:g}: {exc}"
                ) from None
            counts = allocate_copies(dist.tolist(), copies)
        prompt = render_judge_prompt(row["query"], row, tokenizer, scale, template=template)
        for grade, n in enumerate(counts):
            records.extend(
                {
                    "prompt": prompt,
                    "completion": target_text(grade),
                    "kind": "rater",
                    "query_id": str(row["query_id"]),
                    "product_id": str(row["product_id"]),
                    "gold_grade": hard,
                }
                for _ in range(n)
            )
    return _to_dataset(records)


def empty_examples():
    """A dataset with the example columns and no rows (a phase with nothing to learn)."""
    return _to_dataset([])


def _to_dataset(records: list[dict[str, Any]]):
    import datasets

    frame = pd.DataFrame.from_records(records, columns=EXAMPLE_COLUMNS)
    return datasets.Dataset.from_pandas(frame, preserve_index=False)


def load_examples(path: str | Path):
    """A user's prompt/completion file (Parquet or JSONL) as a ``datasets.Dataset``."""
    import datasets

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"examples file not found: {path}")
    if path.suffix == ".parquet":
        frame = pd.read_parquet(path)
    elif path.suffix in (".jsonl", ".json"):
        frame = pd.read_json(path, lines=path.suffix == ".jsonl", dtype=False)
    else:
        raise ValueError(f"{path}: examples must be .parquet or .jsonl")
    for col in ("prompt", "completion"):
        if col not in frame.columns:
            raise ValueError(f"{path}: missing column {col!r} (trl prompt-completion format)")
        bad = frame[col].isna() | (frame[col].astype(str).str.len() == 0)
        if bad.any():
            raise ValueError(f"{path}: row {int(bad.idxmax())}, field {col!r}: empty")
        frame[col] = frame[col].astype(str)
    if frame.empty:
        raise ValueError(f"{path}: no examples")
    for col, default in (("kind", "custom"), ("query_id", ""), ("product_id", ""), ("gold_grade", -1)):
        if col not in frame.columns:
            frame[col] = default
    return datasets.Dataset.from_pandas(frame[EXAMPLE_COLUMNS], preserve_index=False)


def save_examples(ds, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.to_pandas().to_parquet(path, index=False)
    return path


def trainer_view(ds, tokenizer=None):
    """What the trainer reads: trl's prompt/completion columns, or token ids when trl would differ.

    trl tokenizes a text prompt with ``tokenizer(text)``, which adds a BOS for some tokenizers; the
    scorer encodes a chat-rendered prompt without special tokens (``ecomrel.llm.prompts.encode``).
    When the two disagree, examples are tokenized here exactly as the scorer does, with a
    ``completion_mask`` from which trl still builds the completion-only labels.
    """
    view = ds.select_columns(["prompt", "completion"])
    if tokenizer is None or len(view) == 0:
        return view
    from ecomrel.llm.prompts import encode

    first = view[0]["prompt"]
    if list(tokenizer(text=first)["input_ids"]) == encode(tokenizer, first):
        return view
    eos = tokenizer.eos_token or ""

    def tokenize(example: dict[str, str]) -> dict[str, list[int]]:
        completion = example["completion"]
        if eos and not completion.endswith(eos):
            completion += eos
        prompt_ids = encode(tokenizer, example["prompt"])
        ids = encode(tokenizer, example["prompt"] + completion)
        n = 0
        while n < min(len(prompt_ids), len(ids)) and prompt_ids[n] == ids[n]:
            n += 1
        return {"input_ids": ids, "completion_mask": [0] * n + [1] * (len(ids) - n)}

    return view.map(tokenize, remove_columns=["prompt", "completion"])
