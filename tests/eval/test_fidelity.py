"""variant_fidelity: agreement, decided pairs, Spearman and MAE of the expected grade."""

from __future__ import annotations

import numpy as np
import pytest

from ecomrel.eval.fidelity import variant_fidelity


def test_identical_is_perfect():
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(4), 50)
    f = variant_fidelity(p, p)
    assert f["argmax_agreement"] == f["decided_agreement"] == 1.0 and f["spearman"] == pytest.approx(1.0)
    assert f["expected_grade_mae"] == 0.0 and f["n"] == 50 and f["n_flips"] == 0


def test_a_near_tie_flip_is_not_a_decided_flip():
    ref = np.array([[0.51, 0.49, 0, 0], [0.9, 0.1, 0, 0], [0, 0, 0.2, 0.8]])
    got = np.array([[0.49, 0.51, 0, 0], [0.9, 0.1, 0, 0], [0, 0, 0.2, 0.8]])
    f = variant_fidelity(ref, got)
    assert f["n_flips"] == 1 and f["n_decided_flips"] == 0 and f["n_decided"] == 2
    assert f["decided_agreement"] == 1.0 and f["argmax_agreement"] == pytest.approx(2 / 3)
    assert f["expected_grade_mae"] == pytest.approx(0.02 / 3)
    got[1] = [0.1, 0.9, 0, 0]  # a decided pair flips
    f = variant_fidelity(ref, got)
    assert f["decided_agreement"] == 0.5 and f["n_decided_flips"] == 1


def test_spearman_sees_reordering_and_constant_outputs():
    ref = np.eye(4)[[0, 1, 2, 3]].astype(float)
    assert variant_fidelity(ref, ref[::-1])["spearman"] == pytest.approx(-1.0)
    const = np.tile([0.25, 0.25, 0.25, 0.25], (4, 1))
    assert variant_fidelity(const, const)["spearman"] == 1.0
    assert variant_fidelity(ref, const)["spearman"] == 0.0
    with pytest.raises(ValueError):
        variant_fidelity(ref, ref[:2])
