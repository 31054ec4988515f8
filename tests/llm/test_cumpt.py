"""CumPT tiers: TaoSR1's single-β rule, per-tier thresholds, tuning, JSON round trip."""

from __future__ import annotations

import numpy as np
import pytest

from ecomrel.llm.cumpt import THRESHOLDS_FILE, CumPT, Tier, tune


def _taosr1(p, beta):
    # the paper's rule on 4 levels (p4..p1 = our p3..p0); Good = {3, 2}
    if p[3] >= beta or p[3] + p[2] >= beta:
        return "Good"
    if p[3] + p[2] + p[1] >= beta:
        return "Mid"
    return "Bad"


def test_single_beta_matches_taosr1_rule():
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(4), size=300)
    for beta in (0.3, 0.5, 0.7):
        got = CumPT.single_beta(beta).assign(probs)
        assert list(got) == [_taosr1(p, beta) for p in probs]


def test_tier_of_grade_and_validation():
    c = CumPT()
    assert list(c.tier_index_of_grade([3, 2, 1, 0])) == [0, 0, 1, 2]
    with pytest.raises(ValueError):
        CumPT(tiers=(Tier("A", 1), Tier("B", 2), Tier("C", 0)))


def _dev(n=400, seed=0):
    rng = np.random.default_rng(seed)
    grades = rng.integers(0, 4, n)
    logits = (
        rng.normal(size=(n, 4)) + 2.0 * np.eye(4)[grades] + np.array([0, 0, 0.5, 1.5])
    )  # optimistic judge
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    return probs, grades


def test_tune_macro_f1_beats_default_and_round_trips(tmp_path):
    probs, grades = _dev()
    tuned = tune(probs, grades, objective="macro_f1")
    default = tune(probs, grades, objective="macro_f1", grid=[0.5])
    assert tuned.dev_metrics["macro_f1"] >= default.dev_metrics["macro_f1"]
    path = tuned.save(tmp_path)
    assert path.name == THRESHOLDS_FILE
    loaded = CumPT.load(tmp_path)
    assert loaded.thresholds == tuned.thresholds and loaded.names == ["Good", "Mid", "Bad"]
    assert (loaded.assign(probs) == tuned.assign(probs)).all()


def test_tune_precision_target():
    probs, grades = _dev(seed=1)
    c = tune(probs, grades, objective="precision", precision_target=0.7)
    m = c.dev_metrics
    for name, met in m["targets_met"].items():
        if met:
            assert m["precision"][name] >= 0.7
    with pytest.raises(ValueError):
        tune(probs, grades, objective="recall")


def test_default_tiers_follow_the_scale_and_load_checks_the_file(tmp_path):
    import json

    from ecomrel.errors import DataError
    from ecomrel.grades import DEFAULT_SCALE, LREF_SCALE
    from ecomrel.llm.cumpt import DEFAULT_TIERS, CumPT, default_tiers

    assert default_tiers(DEFAULT_SCALE) == DEFAULT_TIERS
    assert [t.min_grade for t in default_tiers(LREF_SCALE)] == [3, 1, 0]
    assert [t.min_grade for t in default_tiers(2)] == [1, 0]
    five = CumPT.single_beta(0.5, default_tiers(LREF_SCALE))
    path = five.save(tmp_path / "five.json")
    assert CumPT.load(path, LREF_SCALE).tiers == five.tiers
    with pytest.raises(DataError, match="4 grades"):
        CumPT(tiers=({"name": "Good", "min_grade": 4}, {"name": "Bad", "min_grade": 0})).check_scale(
            DEFAULT_SCALE
        )
    for text, msg in [
        ("{oops", "not a readable"),
        (json.dumps({"tiers": []}), "not a CumPT"),
        (
            json.dumps(
                {"tiers": [{"name": "G", "min_grade": 1}, {"name": "B", "min_grade": 0}], "thresholds": {}}
            ),
            "no threshold for tier",
        ),
    ]:
        bad = tmp_path / "bad.json"
        bad.write_text(text)
        with pytest.raises(DataError, match=msg) as err:
            CumPT.load(bad)
        assert str(bad) in str(err.value)
    with pytest.raises(DataError, match="not found"):
        CumPT.load(tmp_path / "missing.json")
