"""DPO preference pairs from the judge's own generations: LREF beam errors and TaoSR1 pass@N.

Both builders read the frames of :mod:`ecomrel.llm.samplers` (one row per generated answer:
``prompt_idx, rank, text, score, grade, malformed``) plus the gold grade of every prompt, and
return ``(pairs, stats)``. ``pairs`` has :data:`PAIR_COLUMNS`; ``stats`` holds the figures the
papers report, so a run can be read beside them.

**LREF (§1.5): beam-error pairs** (:func:`beam_pairs`). Beam search top-k over the SFT judge's
answers. A prompt is an *error* when its top beam (rank 0) does not carry the gold grade (a
malformed top beam is an error too). Where the gold grade appears lower in the beam, the pair
is rejected = the top beam, chosen = the highest-ranked beam with the gold grade. Statistics:
the share of errors whose gold grade is in the top-k and at which (1-based) rank — LREF reports
~80%, usually rank 2 — and the share of errors that are *optimistic* (top grade above gold;
LREF: ~70%, mostly "Significant" for Marginal/Trivial/Irrelevant pairs).

**TaoSR1 (§3.4): pass@N pairs** (:func:`pass_at_n_pairs`). N samples per prompt at a
temperature. A sample is correct when its leading grade equals the gold grade.
- Some correct and some wrong (*self-correction*): chosen = the most confident correct sample,
  rejected = the most confident wrong sample (highest sequence log-probability).
- None correct (*oracle guidance*): chosen = an oracle answer written for the gold grade (the
  caller passes it in: the chain builders or the OpenAI-compatible teacher given the gold
  grade), rejected = the most confident wrong sample. Without an oracle answer no pair is made.
- All correct: no pair (nothing to prefer).
Statistics: pass@1..N on the prompts (the unbiased estimator of Chen et al. 2021,
``1 − C(n−c, k)/C(n, k)`` averaged over prompts: TaoSR1's table shape, 67.4% → 81.7% from 1 to
5) and the share of oracle pairs.

Nothing here loads a model: the trainer generates, builds oracle answers for
:func:`all_wrong_prompts`, and calls these functions.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ecomrel.errors import DataError
from ecomrel.grades import DEFAULT_SCALE, GradeScale

PAIR_COLUMNS = [
    "prompt",
    "chosen",
    "rejected",
    "source",
    "gold_grade",
    "chosen_grade",
    "rejected_grade",
    "prompt_idx",
    "chosen_rank",
    "rejected_rank",
    "chosen_score",
    "rejected_score",
]
"""Columns of ``dpo/pairs.parquet`` (plus ``query_id``/``product_id`` when the caller gives them).

``source``: ``beam`` (LREF), ``self_correction`` or ``oracle`` (TaoSR1). Grades are nullable
(a malformed rejected answer has none); ranks are 0-based sampler ranks (``-1`` for an oracle
answer, which was not sampled); scores are the sampler's log-probabilities (NaN for an oracle)."""

REQUIRED_PAIR_COLUMNS = ("prompt", "chosen", "rejected", "source", "gold_grade")
SOURCES = ("beam", "self_correction", "oracle")
SAMPLE_COLUMNS = ("prompt_idx", "rank", "text", "score", "grade", "malformed")


def _check_samples(frame: pd.DataFrame, what: str) -> None:
    missing = [c for c in SAMPLE_COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(f"{what}: sampler frame misses column(s) {', '.join(missing)}")


def _grade_or_none(v: Any) -> int | None:
    if v is None or v is pd.NA:
        return None
    try:
        if isinstance(v, float) and math.isnan(v):
            return None
    except TypeError:
        return None
    return int(v)


def _groups(samples: pd.DataFrame) -> dict[int, pd.DataFrame]:
    return {int(p): g.sort_values("rank", kind="stable") for p, g in samples.groupby("prompt_idx", sort=True)}


def _meta_row(meta: pd.DataFrame | None, idx: int) -> dict[str, Any]:
    if meta is None:
        return {}
    cols = [c for c in ("query_id", "product_id") if c in meta.columns]
    return {c: meta.iloc[idx][c] for c in cols}


def _frame(rows: list[dict[str, Any]], meta: pd.DataFrame | None) -> pd.DataFrame:
    extra = [c for c in ("query_id", "product_id") if meta is not None and c in meta.columns]
    df = pd.DataFrame.from_records(rows, columns=[*PAIR_COLUMNS, *extra])
    for c in ("gold_grade", "chosen_grade", "rejected_grade"):
        df[c] = df[c].astype("Int64")
    for c in ("prompt_idx", "chosen_rank", "rejected_rank"):
        df[c] = df[c].astype("int64")
    for c in ("chosen_score", "rejected_score"):
        df[c] = df[c].astype("float64")
    return df


def _pair(
    prompt: str,
    chosen: pd.Series | None,
    rejected: pd.Series,
    source: str,
    gold: int,
    idx: int,
    oracle: str = "",
) -> dict[str, Any]:
    return {
        "prompt": prompt,
        "chosen": str(chosen["text"]) if chosen is not None else oracle,
        "rejected": str(rejected["text"]),
        "source": source,
        "gold_grade": gold,
        "chosen_grade": _grade_or_none(chosen["grade"]) if chosen is not None else gold,
        "rejected_grade": _grade_or_none(rejected["grade"]),
        "prompt_idx": idx,
        "chosen_rank": int(chosen["rank"]) if chosen is not None else -1,
        "rejected_rank": int(rejected["rank"]),
        "chosen_score": float(chosen["score"]) if chosen is not None else float("nan"),
        "rejected_score": float(rejected["score"]),
    }


def _share(num: float, den: float) -> float | None:
    return float(num / den) if den else None


# --- LREF: beam errors -----------------------------------------------------------------------------
def beam_pairs(
    beams: pd.DataFrame,
    prompts: Sequence[str],
    gold: Sequence[int],
    meta: pd.DataFrame | None = None,
    scale: GradeScale = DEFAULT_SCALE,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """LREF's pairs from beam search top-k (see the module docstring); ``(pairs, stats)``.

    ``beams``: :func:`ecomrel.llm.samplers.beam_topk` output (rank 0 = best beam). ``prompts`` and
    ``gold`` are indexed by ``prompt_idx``; ``meta`` (same order) adds ``query_id``/``product_id``.
    """
    _check_samples(beams, "beam_pairs")
    if len(prompts) != len(gold):
        raise DataError(f"beam_pairs: {len(prompts)} prompts but {len(gold)} gold grades")
    rows: list[dict[str, Any]] = []
    n_prompts = errors = malformed_top = optimistic = pessimistic = found = 0
    k = 0
    gold_rank: dict[int, int] = {}
    optimistic_top: dict[str, int] = {}
    for idx, g in _groups(beams).items():
        n_prompts += 1
        k = max(k, len(g))
        want = int(gold[idx])
        top = g.iloc[0]
        top_grade = _grade_or_none(top["grade"])
        if top_grade == want:
            continue
        errors += 1
        if top_grade is None:
            malformed_top += 1
        elif top_grade > want:
            optimistic += 1
            name = scale.name(top_grade)
            optimistic_top[name] = optimistic_top.get(name, 0) + 1
        else:
            pessimistic += 1
        hits = g[[(_grade_or_none(v) == want) for v in g["grade"]]]
        if hits.empty:
            continue
        found += 1
        chosen = hits.iloc[0]
        rank1 = int(chosen["rank"]) + 1
        gold_rank[rank1] = gold_rank.get(rank1, 0) + 1
        rows.append({**_pair(prompts[idx], chosen, top, "beam", want, idx), **_meta_row(meta, idx)})
    graded_errors = errors - malformed_top
    stats: dict[str, Any] = {
        "method": "beam",
        "prompts": n_prompts,
        "k": k,
        "top1_accuracy": _share(n_prompts - errors, n_prompts),
        "errors": errors,
        "error_rate": _share(errors, n_prompts),
        "malformed_top": malformed_top,
        "optimistic_errors": optimistic,
        "optimistic_share_of_errors": _share(optimistic, graded_errors),
        "pessimistic_share_of_errors": _share(pessimistic, graded_errors),
        "optimistic_top_grades": dict(sorted(optimistic_top.items(), key=lambda kv: -kv[1])),
        "gold_in_topk_share_of_errors": _share(found, errors),
        "gold_rank_share_of_errors": {str(r): _share(c, errors) for r, c in sorted(gold_rank.items())},
        "pairs": len(rows),
        "paper": {
            "source": "LREF §1.5",
            "error_rate": 0.09,
            "optimistic_share_of_errors": 0.70,
            "gold_in_topk_share_of_errors": 0.80,
            "usual_gold_rank": 2,
        },
    }
    return _frame(rows, meta), stats


# --- TaoSR1: pass@N --------------------------------------------------------------------------------
def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k of one prompt with ``c`` correct out of ``n`` samples (Chen et al., 2021)."""
    if k > n:
        raise ValueError(f"pass@{k} needs at least {k} samples, got {n}")
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def _correct_mask(g: pd.DataFrame, want: int) -> np.ndarray:
    return np.array([_grade_or_none(v) == want for v in g["grade"]], dtype=bool)


def all_wrong_prompts(samples: pd.DataFrame, gold: Sequence[int]) -> list[int]:
    """``prompt_idx`` of the prompts none of whose samples has the gold grade (they need an oracle)."""
    _check_samples(samples, "all_wrong_prompts")
    return [idx for idx, g in _groups(samples).items() if not _correct_mask(g, int(gold[idx])).any()]


def _most_confident(g: pd.DataFrame) -> pd.Series:
    """The sample with the highest log-probability; ties go to the lower rank."""
    order = g.assign(_neg=-g["score"].astype(float)).sort_values(["_neg", "rank"], kind="stable")
    return order.iloc[0]


def pass_at_n_pairs(
    samples: pd.DataFrame,
    prompts: Sequence[str],
    gold: Sequence[int],
    oracle: Mapping[int, str | None] | Sequence[str | None] | None = None,
    meta: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """TaoSR1's self-correction and oracle pairs from N samples per prompt; ``(pairs, stats)``.

    ``samples``: :func:`ecomrel.llm.samplers.pass_at_n` output. ``oracle``: an answer written for
    the gold grade, by ``prompt_idx`` (only the prompts of :func:`all_wrong_prompts` are read; a
    missing or empty one means no pair for that prompt).
    """
    _check_samples(samples, "pass_at_n_pairs")
    if len(prompts) != len(gold):
        raise DataError(f"pass_at_n_pairs: {len(prompts)} prompts but {len(gold)} gold grades")
    rows: list[dict[str, Any]] = []
    per_prompt: list[tuple[int, int]] = []
    all_correct = no_oracle = wrong_samples = optimistic_samples = malformed = 0
    for idx, g in _groups(samples).items():
        want = int(gold[idx])
        ok = _correct_mask(g, want)
        per_prompt.append((len(g), int(ok.sum())))
        wrong = g[~ok]
        for v in wrong["grade"]:
            gv = _grade_or_none(v)
            wrong_samples += 1
            if gv is None:
                malformed += 1
            elif gv > want:
                optimistic_samples += 1
        if wrong.empty:
            all_correct += 1
            continue
        rejected = _most_confident(wrong)
        if ok.any():
            chosen = _most_confident(g[ok])
            rows.append(
                {
                    **_pair(prompts[idx], chosen, rejected, "self_correction", want, idx),
                    **_meta_row(meta, idx),
                }
            )
            continue
        text = None
        if oracle is not None:
            text = oracle.get(idx) if isinstance(oracle, Mapping) else oracle[idx]
        if text is None or not str(text).strip():
            no_oracle += 1
            continue
        rows.append(
            {
                **_pair(prompts[idx], None, rejected, "oracle", want, idx, oracle=str(text)),
                **_meta_row(meta, idx),
            }
        )
    n_min = min((n for n, _ in per_prompt), default=0)
    pass_at = {
        str(k): float(np.mean([pass_at_k(n, c, k) for n, c in per_prompt])) for k in range(1, n_min + 1)
    }
    n_oracle = sum(r["source"] == "oracle" for r in rows)
    stats: dict[str, Any] = {
        "method": "pass_at_n",
        "prompts": len(per_prompt),
        "n": n_min,
        "pass_at": pass_at,
        "mean_correct_share": float(np.mean([c / n for n, c in per_prompt])) if per_prompt else None,
        "all_correct_prompts": all_correct,
        "all_wrong_prompts": sum(1 for _, c in per_prompt if c == 0),
        "all_wrong_without_oracle": no_oracle,
        "optimistic_share_of_wrong_samples": _share(optimistic_samples, wrong_samples - malformed),
        "malformed_samples": malformed,
        "pairs": len(rows),
        "self_correction_pairs": len(rows) - n_oracle,
        "oracle_pairs": n_oracle,
        "oracle_share_of_pairs": _share(n_oracle, len(rows)),
        "paper": {
            "source": "TaoSR1 §3.4",
            "pass_at": {"1": 0.6738, "2": 0.7426, "3": 0.7768, "4": 0.8018, "5": 0.8173},
        },
    }
    return _frame(rows, meta), stats


# --- the pair file ---------------------------------------------------------------------------------
def write_pairs(pairs: pd.DataFrame, path: str | Path) -> Path:
    """Write ``dpo/pairs.parquet`` atomically (a killed write never leaves a half file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.parquet")
    pairs.to_parquet(tmp, index=False)
    tmp.replace(path)
    return path


def read_pairs(path: str | Path) -> pd.DataFrame:
    """Read a pair file (ours, or a user's with at least :data:`REQUIRED_PAIR_COLUMNS`)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: pair file not found")
    try:
        df = pd.read_parquet(path)
    except Exception as exc:  # noqa: BLE001 - pyarrow raises several types for a bad file
        raise DataError(f"{path}: not a readable Parquet file ({exc})") from None
    missing = [c for c in REQUIRED_PAIR_COLUMNS if c not in df.columns]
    if missing:
        raise DataError(f"{path}: missing column(s) {', '.join(missing)}")
    for col in ("prompt", "chosen", "rejected"):
        bad = df[col].isna() | (df[col].astype(str).str.strip() == "")
        if col != "rejected" and bad.any():
            raise DataError(f"{path}: row {int(np.flatnonzero(bad.to_numpy())[0])}, field {col!r}: empty")
    unknown = sorted(set(df["source"].astype(str)) - set(SOURCES))
    if unknown:
        raise DataError(f"{path}: field 'source' has unknown value(s) {unknown}; known: {', '.join(SOURCES)}")
    return df
