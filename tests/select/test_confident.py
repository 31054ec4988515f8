"""Confident learning made ordinal-aware: a flag needs the suspected grade far enough from the label."""

from __future__ import annotations

import numpy as np

from ecomrel.select.confident import find_ordinal_label_issues


def noisy_probs(n_per: int = 100, seed: int = 0):
    rng = np.random.default_rng(seed)
    truth = np.repeat(np.arange(4), n_per)
    probs = np.full((len(truth), 4), 0.02)
    probs[np.arange(len(truth)), truth] = 0.94
    probs += rng.uniform(0, 0.01, probs.shape)
    probs /= probs.sum(1, keepdims=True)
    labels = truth.copy()
    far = list(range(0, 10))  # 0 → 3: three grades away
    near = list(range(100, 110))  # 1 → 2: adjacent
    labels[far] = 3
    labels[near] = 2
    return labels, probs, far, near


def test_flags_the_flipped_labels_and_nothing_else():
    labels, probs, far, near = noisy_probs()
    out = find_ordinal_label_issues(labels, probs)
    flagged = set(np.flatnonzero(out["cl_flag"]))
    assert flagged <= set(far + near)  # precision 1 (cleanlab's rounded noise counts may miss a few)
    assert len(flagged) >= 0.4 * len(far + near)
    assert (out.loc[far, "cl_suspected"] == 0).all()
    assert (out.loc[near, "cl_suspected"] == 1).all()
    assert (out.loc[far, "cl_label_quality"] < 0.1).all()


def test_min_distance_keeps_adjacent_disagreements():
    labels, probs, far, near = noisy_probs()
    out = find_ordinal_label_issues(labels, probs, min_distance=2)
    flagged = set(np.flatnonzero(out["cl_flag"]))
    assert flagged and flagged <= set(far)
    assert out.loc[near, "cl_issue"].any()  # cleanlab still found some; the ordinal rule let them pass
    exp = find_ordinal_label_issues(labels, probs, min_distance=2.5, distance="expected")
    assert set(np.flatnonzero(exp["cl_flag"])) <= set(far)


def test_missing_grade_among_labels():
    labels, probs, _, _ = noisy_probs()
    keep = labels != 1  # no label 1 at all (a source without that grade)
    out = find_ordinal_label_issues(labels[keep], probs[keep])
    assert len(out) == int(keep.sum())
