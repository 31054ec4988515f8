"""Difficulty-based dynamic sampling on hand-made groups, and class balancing to a target CV."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from ecomrel.mining.difficulty import (
    balance_classes,
    class_counts,
    coefficient_of_variation,
    difficulty_mask,
    group_counts,
    select_pool,
)


def _samples(groups: list[list[int | None]]) -> pd.DataFrame:
    """A pass@N sampler frame: one row per sampled answer (None = malformed)."""
    rows = []
    for p, grades in enumerate(groups):
        for r, g in enumerate(grades):
            rows.append({"prompt_idx": p, "rank": r, "grade": g, "malformed": g is None})
    df = pd.DataFrame(rows)
    df["grade"] = df["grade"].astype("Int64")
    return df


# gold grade 2 everywhere; G = 4
GROUPS = {
    "all_right": [2, 2, 2, 2],
    "all_wrong": [0, 3, None, 1],
    "one_right": [2, 0, 0, 0],
    "three_right": [2, 2, 2, 3],
    "two_right": [2, 2, None, 0],
}


def test_group_counts_counts_correct_samples_and_malformed():
    counts = group_counts(_samples(list(GROUPS.values())), gold=[2] * 5)
    assert counts["n"].tolist() == [4, 4, 4, 4, 4]
    assert counts["correct"].tolist() == [4, 0, 1, 3, 2]
    assert counts["malformed"].tolist() == [0, 1, 0, 0, 1]
    assert counts["pass_rate"].tolist() == [1.0, 0.0, 0.25, 0.75, 0.5]


def test_difficulty_filter_drops_all_right_and_all_wrong_groups():
    counts = group_counts(_samples(list(GROUPS.values())), gold=[2] * 5)
    kept = difficulty_mask(counts["correct"], gamma=4)
    assert dict(zip(GROUPS, kept.tolist(), strict=True)) == {
        "all_right": False,
        "all_wrong": False,
        "one_right": True,
        "three_right": True,
        "two_right": True,
    }


def test_gamma_boundary_is_exclusive():
    correct = [0, 1, 2, 3, 4]
    assert difficulty_mask(correct, gamma=3).tolist() == [False, True, True, False, False]  # 3 = γ: dropped
    assert difficulty_mask(correct, gamma=4).tolist() == [False, True, True, True, False]
    assert difficulty_mask(correct, gamma=1).tolist() == [False] * 5  # nothing satisfies 0 < c < 1


def test_coefficient_of_variation():
    assert coefficient_of_variation([0, 1, 2, 3]) == 0.0
    assert coefficient_of_variation([0, 0, 0, 1]) == pytest.approx(np.std([3, 1]) / 2)
    assert coefficient_of_variation([0, 0, 1, 1], classes=[0, 1, 2]) == pytest.approx(
        np.std([2, 2, 0]) / (4 / 3)
    )
    assert math.isnan(coefficient_of_variation([]))
    assert class_counts([3, 3, 1]) == {1: 1, 3: 2}


@pytest.mark.parametrize("target", [0.0, 0.1, 0.3, 0.6])
def test_balance_reaches_the_target_cv_keeping_as_much_as_possible(target):
    rng = np.random.default_rng(1)
    labels = rng.choice(4, size=400, p=[0.55, 0.25, 0.15, 0.05])
    keep = balance_classes(labels, target_cv=target, seed=0)
    assert len(set(keep.tolist())) == len(keep)
    cv = coefficient_of_variation(labels[keep])
    assert cv <= target + 1e-9
    # one more label in the largest capped class would break the target: the cap is the largest possible
    counts = np.array(list(class_counts(labels[keep]).values()))
    orig = np.array(list(class_counts(labels).values()))
    if cv > 0 or target == 0.0:
        bumped = np.minimum(orig, counts.max() + 1)
        if (bumped != counts).any():
            assert bumped.std() / bumped.mean() > target
    # every class survives
    assert set(labels[keep].tolist()) == set(labels.tolist())


def test_balance_target_zero_gives_equal_classes_and_is_seeded():
    labels = np.array([0] * 10 + [1] * 3 + [2] * 5)
    a = balance_classes(labels, 0.0, seed=3)
    assert class_counts(labels[a]) == {0: 3, 1: 3, 2: 3}
    assert a.tolist() == balance_classes(labels, 0.0, seed=3).tolist()
    already = balance_classes(labels, target_cv=5.0)
    assert already.tolist() == list(range(len(labels)))  # already under the target: nothing dropped
    with pytest.raises(ValueError):
        balance_classes(labels, -0.1)


def test_select_pool_filters_then_balances_and_reports_cv():
    # 8 prompts: gold grades and how many of G=4 samples were right
    gold = [0, 0, 0, 0, 1, 1, 3, 3]
    correct = [1, 2, 3, 4, 0, 2, 1, 4]
    groups = [[g] * c + [(g + 1) % 4] * (4 - c) for g, c in zip(gold, correct, strict=True)]
    counts = group_counts(_samples(groups), gold)
    pool, stats = select_pool(counts, gold, target_cv=0.0, seed=0)
    # difficulty keeps prompts 0,1,2 (grade 0), 5 (grade 1), 6 (grade 3); balance: one per grade
    assert stats.kept_by_difficulty == 5
    assert stats.kept_share == pytest.approx(5 / 8)
    assert stats.all_right == 2 and stats.all_wrong == 1
    assert stats.counts_before == {0: 3, 1: 1, 3: 1}
    assert stats.cv_before > 0
    assert stats.cv_after == 0.0
    assert stats.pool_size == 3
    assert sorted(np.asarray(gold)[pool].tolist()) == [0, 1, 3]
    assert set(pool.tolist()) <= {0, 1, 2, 5, 6}
    # γ = 3 also drops the prompt with 3 of 4 right
    _, stats3 = select_pool(counts, gold, gamma=3, balance=False)
    assert stats3.kept_by_difficulty == 4 and stats3.too_easy == 1
    # without dynamic sampling and balance: the whole set
    pool_all, stats_all = select_pool(counts, gold, dynamic=False, balance=False)
    assert pool_all.tolist() == list(range(8)) and stats_all.kept_share == 1.0
    assert stats.as_dict()["counts_after"] == {"0": 1, "1": 1, "3": 1}
