"""The selection rules on a frame of helper predictions: keep = hard ∧ learnable ∧ not suspect.

LREF's equations (papers.md §1.3, a reconstruction), with L(x) the human label:

    D_IM = {x : IM(x) ≠ L(x)}     hard for the model trained on the exposure distribution
    D_CI = {x : CI(x) = L(x)}     solvable by the head/torso/tail balanced model
    D_MS = {x : MS(x) ≠ L(x)}     the label is not the "confusable alternative"
    D_sel = D_IM ∩ D_CI ∩ D_MS

Here, per pair (columns of the decisions frame):

- ``easy``          IM's top grade is L and p_IM(L) ≥ ``im.easy_confidence`` (0 = the equation);
- ``not_learnable`` not (CI's top grade is L and p_CI(L) ≥ ``ci.min_confidence``);
- ``suspect_ms``    MS's top grade is L and p_MS(L) ≥ ``ms.min_confidence``;
- ``suspect_cl``    confident learning's ordinal-aware flag (:mod:`ecomrel.select.confident`);
- ``suspect``       per ``mislabel``: ms, confident, either (∪), both (∩) or none.

A disabled helper's rule removes nothing (LREF's cumulative ablation: +IM, +CI, +MS).

With ``keep_ratio`` the easy rule becomes a ranking (a deviation: LREF's pool yields ~10 % by the
equations alone): the clean, learnable pairs are ranked hardest first (lowest p_IM(L)) inside each
grade × band stratum, each stratum keeps its proportional share of ``keep_ratio·n``, and the rest
are dropped as ``easy``. Either way, every grade × band stratum of the pool then keeps at least
``min_per_stratum`` pairs: dropped easy pairs are re-admitted first (hardest first), then
not-learnable ones (most learnable first); suspected mislabels never are.

``reason``: ``kept``, ``kept_floor`` (re-admitted by the stratification floor), or the first rule that
removed the pair in the order suspect_mislabel → not_learnable → easy; ``rules`` lists every rule that
fired (``easy+not_learnable``). Selecting nothing or everything raises a :class:`UserError` that says
how many pairs each rule removed.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ecomrel.errors import UserError
from ecomrel.select.config import SelectConfig

RULES = ("suspect_mislabel", "not_learnable", "easy")
"""Dropping rules in the order a pair's ``reason`` names them."""


class SelectionError(UserError):
    """The rules kept nothing or everything: the message says which rule removed what."""


def _col(frame: pd.DataFrame, name: str, default: Any) -> np.ndarray:
    return frame[name].to_numpy() if name in frame.columns else np.full(len(frame), default)


def rule_flags(frame: pd.DataFrame, config: SelectConfig) -> pd.DataFrame:
    """The per-rule booleans (``easy``, ``not_learnable``, ``suspect_ms``, ``suspect_cl``, ``suspect``)."""
    g = frame["grade"].to_numpy(dtype=int)
    out = pd.DataFrame(index=frame.index)
    if config.im.enabled:
        out["easy"] = (_col(frame, "im_pred", -1) == g) & (
            _col(frame, "im_p_label", 0.0) >= config.im.easy_confidence
        )
    else:
        out["easy"] = False
    if config.ci.enabled:
        out["not_learnable"] = ~(
            (_col(frame, "ci_pred", -1) == g) & (_col(frame, "ci_p_label", 0.0) >= config.ci.min_confidence)
        )
    else:
        out["not_learnable"] = False
    if config.ms.enabled:
        out["suspect_ms"] = (_col(frame, "ms_pred", -1) == g) & (
            _col(frame, "ms_p_label", 0.0) >= config.ms.min_confidence
        )
    else:
        out["suspect_ms"] = False
    out["suspect_cl"] = _col(frame, "cl_flag", False).astype(bool)
    ms, cl = out["suspect_ms"].to_numpy(), out["suspect_cl"].to_numpy()
    has_cl = "cl_flag" in frame.columns
    mode = config.mislabel
    if mode == "ms":
        sus = ms
    elif mode == "confident":
        sus = cl
    elif mode == "both":
        sus = ms & cl
    elif mode == "either":
        sus = (ms if config.ms.enabled else False) | (cl if has_cl else False)
    else:
        sus = np.zeros(len(frame), dtype=bool)
    out["suspect"] = np.asarray(sus, dtype=bool) & np.ones(len(frame), dtype=bool)
    for c in ("easy", "not_learnable"):
        out[c] = out[c].astype(bool)
    return out


def _largest_remainder(total: int, sizes: np.ndarray) -> np.ndarray:
    if sizes.sum() == 0:
        return np.zeros_like(sizes)
    exact = total * sizes / sizes.sum()
    q = np.floor(exact).astype(int)
    for i in np.argsort(-(exact - q), kind="stable")[: total - q.sum()]:
        q[i] += 1
    return np.minimum(q, sizes)


def decide(frame: pd.DataFrame, config: SelectConfig) -> pd.DataFrame:
    """``frame`` (grade, band, helper columns) plus the rule flags, ``kept``, ``reason`` and ``rules``."""
    flags = rule_flags(frame, config)
    out = pd.concat([frame, flags], axis=1)
    n = len(out)
    easy, unl, sus = (flags[c].to_numpy() for c in ("easy", "not_learnable", "suspect"))
    clean = ~unl & ~sus
    hardness = _col(out, "im_p_label", np.nan).astype(float)  # lower = harder
    rng = np.random.default_rng(config.seed)
    tiebreak = rng.random(n)
    hard_order = np.where(np.isnan(hardness), tiebreak, hardness)
    strata = out["grade"].astype(str).to_numpy() + "|" + out["band"].astype(str).to_numpy()

    if config.keep_ratio is None:
        kept = clean & ~easy
        easy_drop = clean & easy
    else:
        target = max(1, int(round(config.keep_ratio * n)))
        names, inverse = np.unique(strata, return_inverse=True)
        quota = _largest_remainder(target, np.bincount(inverse, minlength=len(names)))
        kept = np.zeros(n, dtype=bool)
        for s in range(len(names)):
            cand = np.flatnonzero((inverse == s) & clean)
            cand = cand[np.lexsort((tiebreak[cand], hard_order[cand]))]
            kept[cand[: quota[s]]] = True
        short = target - int(kept.sum())
        if (
            short > 0
        ):  # strata without enough clean pairs: their quota goes to the hardest clean pairs elsewhere
            rest = np.flatnonzero(clean & ~kept)
            rest = rest[np.lexsort((tiebreak[rest], hard_order[rest]))]
            kept[rest[:short]] = True
        easy_drop = clean & ~kept

    floor = np.zeros(n, dtype=bool)
    if config.min_per_stratum > 0:
        for s in np.unique(strata):
            members = strata == s
            need = min(config.min_per_stratum, int((members & ~sus).sum())) - int((kept & members).sum())
            if need <= 0:
                continue
            first = np.flatnonzero(members & ~kept & ~sus & ~unl)
            first = first[np.lexsort((tiebreak[first], hard_order[first]))]
            ci_p = _col(out, "ci_p_label", 0.0).astype(float)
            second = np.flatnonzero(members & ~kept & ~sus & unl)
            second = second[np.lexsort((tiebreak[second], -ci_p[second]))]
            pick = np.concatenate([first, second])[:need]
            floor[pick] = True
        kept = kept | floor

    reason = np.full(n, "kept", dtype=object)
    reason[floor] = "kept_floor"
    reason[~kept & easy_drop] = "easy"
    reason[~kept & unl] = "not_learnable"
    reason[~kept & sus] = "suspect_mislabel"
    fired = np.stack([sus, unl, easy if config.keep_ratio is None else easy_drop | (easy & ~kept)], axis=1)
    out["kept"] = kept
    out["reason"] = reason
    out["rules"] = ["+".join(r for r, f in zip(RULES, row, strict=True) if f) for row in fired]
    return out


def rule_counts(decisions: pd.DataFrame) -> dict[str, int]:
    """How many pairs each rule fired on (independently) and removed (as the primary reason)."""
    out = {"pairs": int(len(decisions)), "kept": int(decisions["kept"].sum())}
    for col, name in (("easy", "easy"), ("not_learnable", "not_learnable"), ("suspect", "suspect_mislabel")):
        out[f"fired_{name}"] = int(decisions[col].sum())
        out[f"removed_{name}"] = int((decisions["reason"] == name).sum())
    out["kept_floor"] = int((decisions["reason"] == "kept_floor").sum())
    return out


def check_not_degenerate(decisions: pd.DataFrame, allow_empty: bool = False) -> None:
    """Raise :class:`SelectionError` when nothing or everything is kept, naming each rule's removals."""
    c = rule_counts(decisions)
    if allow_empty or 0 < c["kept"] < c["pairs"]:
        return
    detail = ", ".join(
        f"{name} fired on {c[f'fired_{name}']} and removed {c[f'removed_{name}']}" for name in RULES
    )
    if c["kept"] == 0:
        raise SelectionError(
            f"selection kept none of the {c['pairs']} pool pairs ({detail}); loosen the rule that removed "
            "the most (im.easy_confidence, ci.min_confidence, ms.min_confidence, mislabel) or set keep_ratio"
        )
    raise SelectionError(
        f"selection kept all {c['pairs']} pool pairs ({detail}); no rule removed anything — enable helpers "
        "(im/ci/ms.enabled), lower im.easy_confidence or set keep_ratio"
    )


def counts_by(decisions: pd.DataFrame) -> dict[str, dict[str, dict[str, int]]]:
    """Counts as ``{reason: {grade: {band: n}}}`` (every reason, grade and band that occurs)."""
    tab = decisions.groupby(["reason", "grade", "band"]).size()
    out: dict[str, dict[str, dict[str, int]]] = {}
    for (r, g, b), v in tab.items():
        out.setdefault(str(r), {}).setdefault(str(int(g)), {})[str(b)] = int(v)
    return out
