"""Each selection rule on a hand-made frame whose decisions are known."""

from __future__ import annotations

import pandas as pd
import pytest

from ecomrel.select.config import SelectConfig
from ecomrel.select.decisions import SelectionError, check_not_degenerate, counts_by, decide, rule_counts


def frame() -> pd.DataFrame:
    # row: what the helpers said → the expected decision under the default thresholds
    rows = [
        # grade band  im_pred im_p  ci_pred ci_p  ms_pred ms_p  cl    expected reason
        (2, "head", 2, 0.9, 2, 0.8, 1, 0.7, False),  # 0 easy: IM right
        (2, "head", 1, 0.3, 2, 0.6, 3, 0.6, False),  # 1 kept: IM wrong, CI right, MS ≠ label
        (1, "tail", 0, 0.2, 2, 0.3, 0, 0.5, False),  # 2 not learnable: CI wrong
        (3, "torso", 2, 0.4, 3, 0.7, 3, 0.8, False),  # 3 suspect: MS reproduces the label
        (0, "tail", 1, 0.1, 0, 0.5, 1, 0.9, True),  # 4 suspect by confident learning only
        (0, "tail", 3, 0.05, 0, 0.6, 1, 0.6, False),  # 5 kept
        (3, "head", 3, 0.95, 1, 0.1, 3, 0.9, True),  # 6 every rule fires → suspect first
    ]
    cols = [
        "grade",
        "band",
        "im_pred",
        "im_p_label",
        "ci_pred",
        "ci_p_label",
        "ms_pred",
        "ms_p_label",
        "cl_flag",
    ]
    return pd.DataFrame(rows, columns=cols)


def cfg(**kw) -> SelectConfig:
    return SelectConfig(data_dir="unused", min_per_stratum=0, **kw)


def test_lref_equations_each_rule():
    d = decide(frame(), cfg())
    assert d["reason"].tolist() == [
        "easy",
        "kept",
        "not_learnable",
        "suspect_mislabel",
        "suspect_mislabel",
        "kept",
        "suspect_mislabel",
    ]
    assert d["kept"].tolist() == [False, True, False, False, False, True, False]
    assert d.loc[6, "rules"] == "suspect_mislabel+not_learnable+easy"
    assert d.loc[0, "rules"] == "easy"


def test_mislabel_modes():
    reasons = {
        m: decide(frame(), cfg(mislabel=m))["reason"].tolist() for m in ("ms", "confident", "both", "none")
    }
    assert reasons["ms"][3] == "suspect_mislabel" and reasons["ms"][4] == "kept"  # CL flag ignored
    assert reasons["confident"][3] == "kept" and reasons["confident"][4] == "suspect_mislabel"
    assert reasons["both"][3] == "kept" and reasons["both"][6] == "suspect_mislabel"  # only row 6 has both
    assert reasons["none"][3] == "kept" and reasons["none"][6] == "not_learnable"


def test_thresholds():
    # τ = 0.95: row 0 (p_IM = 0.9) is no longer easy
    assert decide(frame(), cfg(im={"easy_confidence": 0.95})).loc[0, "reason"] == "kept"
    # CI must be right with p ≥ 0.65: row 1 (0.6) and row 5 (0.6) become not learnable
    d = decide(frame(), cfg(ci={"min_confidence": 0.65}))
    assert d.loc[1, "reason"] == "not_learnable" and d.loc[5, "reason"] == "not_learnable"
    # MS needs p ≥ 0.85 to accuse: row 3 (0.8) is kept
    assert decide(frame(), cfg(mislabel="ms", ms={"min_confidence": 0.85})).loc[3, "reason"] == "kept"


def test_disabled_helper_removes_nothing():
    d = decide(frame(), cfg(im={"enabled": False}))
    assert d.loc[0, "reason"] == "kept"  # was easy
    d = decide(frame(), cfg(ci={"enabled": False}, mislabel="none"))
    assert d.loc[2, "reason"] == "kept"  # was not learnable


def test_keep_ratio_keeps_the_hardest_clean_pairs_per_stratum():
    f = pd.DataFrame(
        {
            "grade": [1] * 6 + [2] * 4,
            "band": ["head"] * 10,
            "im_pred": [1] * 10,
            "im_p_label": [0.9, 0.1, 0.5, 0.3, 0.7, 0.2, 0.8, 0.4, 0.6, 0.05],
            "ci_pred": [1] * 6 + [2] * 4,
            "ci_p_label": [0.9] * 10,
        }
    )
    d = decide(f, cfg(keep_ratio=0.5, mislabel="none", ms={"enabled": False}))
    # 5 kept: grade 1 gets 3 (6/10 of 5), grade 2 gets 2; the lowest p_IM(label) in each
    assert sorted(d.index[d["kept"]].tolist()) == [1, 3, 5, 7, 9]
    assert set(d.loc[~d["kept"], "reason"]) == {"easy"}


def test_stratum_floor_readmits_easy_before_not_learnable_never_suspects():
    f = pd.DataFrame(
        {
            "grade": [0, 0, 0, 1, 1],
            "band": ["tail"] * 5,
            "im_pred": [0, 0, 1, 1, 2],
            "im_p_label": [0.9, 0.6, 0.2, 0.9, 0.1],
            "ci_pred": [0, 0, 2, 1, 1],
            "ci_p_label": [0.9, 0.9, 0.3, 0.9, 0.9],
            "ms_pred": [1, 1, 1, 1, 1],
            "ms_p_label": [0.1, 0.1, 0.1, 0.9, 0.9],
        }
    )
    d = decide(f, SelectConfig(data_dir="x", min_per_stratum=2, mislabel="ms"))
    # grade 0: none passes (rows 0, 1 easy; row 2 not learnable) → the two easy ones come back
    assert d.loc[1, "reason"] == "kept_floor" and d.loc[0, "reason"] == "kept_floor"
    assert d.loc[2, "reason"] == "not_learnable"
    # grade 1: both are suspects → none comes back
    assert d.loc[3, "reason"] == d.loc[4, "reason"] == "suspect_mislabel"


def test_nothing_or_everything_is_an_error_naming_the_rules():
    f = frame()
    f["im_pred"], f["im_p_label"] = f["grade"], 1.0  # IM right everywhere: all easy
    f["ms_pred"], f["cl_flag"] = -1, False
    d = decide(f, cfg())
    with pytest.raises(SelectionError, match=r"kept none of the 7 .*easy fired on 7"):
        check_not_degenerate(d)
    check_not_degenerate(d, allow_empty=True)
    everything = decide(
        frame(), cfg(im={"enabled": False}, ci={"enabled": False}, mislabel="none", ms={"enabled": False})
    )
    with pytest.raises(SelectionError, match="kept all 7"):
        check_not_degenerate(everything)


def test_counts():
    d = decide(frame(), cfg())
    c = rule_counts(d)
    assert c["kept"] == 2 and c["removed_suspect_mislabel"] == 3 and c["fired_easy"] == 2
    by = counts_by(d)
    assert by["kept"] == {"2": {"head": 1}, "0": {"tail": 1}}
