"""Grade decisions saved with a model: cut points on the expected grade and the isotonic source map."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from ecomrel.baselines.lexical import OBJECTIVES
from ecomrel.decisions import (
    DECISIONS_FILE,
    Decisions,
    apply_decisions,
    find_decisions,
    fit_decisions,
    save_decisions,
)
from ecomrel.errors import DataError


def skewed(n: int = 2000, seed: int = 0):
    """A model whose expected grade is informative but whose argmax never says 'complement' (1)."""
    rng = np.random.default_rng(seed)
    grades = rng.choice(4, size=n, p=[0.1, 0.15, 0.35, 0.4])
    expected = np.clip(grades * 0.6 + 1.0 + rng.normal(0, 0.35, n), 0, 3)
    raw = np.clip(1 + 2 * grades / 3 + rng.normal(0, 0.15, n), 1, 3)  # a 1–3 rater mean
    argmax = np.where(expected < 1.3, 0, np.where(expected < 2.2, 2, 3))
    return expected, grades, raw, argmax


def test_cuts_beat_argmax_and_the_isotonic_map_beats_the_linear_one():
    e, g, raw, argmax = skewed()
    d = Decisions.fit(e, g, raw, argmax=argmax)
    assert len(d.cuts) == 3 and d.cuts == sorted(d.cuts)
    f1 = OBJECTIVES["macro_f1"]
    assert d.objective_value == pytest.approx(f1(g, d.grade(e), 4))
    assert d.objective_value > d.argmax_objective_value + 0.05
    assert 1 in set(d.grade(e))  # the cut points predict the grade argmax never does
    cal = d.calibrated(e)
    assert cal.min() >= 1.0 and cal.max() <= 3.0
    assert np.all(np.diff(cal[np.argsort(e)]) >= -1e-12)  # monotone
    rmse = lambda p: float(np.sqrt(np.mean((p - raw) ** 2)))  # noqa: E731
    assert rmse(cal) < rmse(1 + 2 * e / 3)


def test_round_trip_and_apply(tmp_path):
    e, g, raw, argmax = skewed(400)
    d = Decisions.fit(e, g, raw, argmax=argmax)
    path = save_decisions(d, tmp_path / "model")
    assert path == tmp_path / "model" / DECISIONS_FILE
    back = Decisions.load(tmp_path / "model")
    assert back == d
    pred = pd.DataFrame(
        {
            "query_id": [f"q{i // 5}" for i in range(len(e))],
            "product_id": [f"p{i}" for i in range(len(e))],
            "score": e,
            "pred_grade": argmax,
            "expected_grade": e,
        }
    )
    out = apply_decisions(pred, back)
    assert (out["argmax_grade"] == argmax).all()
    assert (out["pred_grade"] == d.grade(e)).all()
    np.testing.assert_allclose(out["calibrated_score"], d.calibrated(e))
    assert find_decisions(tmp_path / "model") == path
    # an ONNX export finds the decisions of the folder it came from
    onnx = tmp_path / "onnx"
    onnx.mkdir()
    (onnx / "onnx.json").write_text(json.dumps({"source": str(tmp_path / "model")}))
    assert find_decisions(onnx) == path


def test_fit_decisions_joins_judgments_and_skips_calibration_without_a_source_score():
    e, g, _, argmax = skewed(300)
    probs = np.eye(4)[argmax] * 0.7 + 0.075
    pred = pd.DataFrame({"query_id": [f"q{i}" for i in range(300)], "product_id": "p"})
    pred["score"] = e
    pred["pred_grade"] = argmax
    for k in range(4):
        pred[f"p_{k}"] = probs[:, k]
    pred["expected_grade"] = e
    judged = pred[["query_id", "product_id"]].assign(grade=g, raw_score=np.nan)
    d = fit_decisions(pred, judged.iloc[:200], meta={"split": "dev"})
    assert d.fitted_on == {"split": "dev", "n_pairs": 200, "n_calibration_pairs": 0}
    assert d.calibration is None and d.calibrated(e) is None
    assert d.argmax_objective_value is not None
    with pytest.raises(DataError, match="no predicted pair has a judgment"):
        fit_decisions(pred, judged.assign(query_id="nope"))


def test_bad_files_are_user_errors(tmp_path):
    (tmp_path / DECISIONS_FILE).write_text("{not json")
    with pytest.raises(DataError, match="not a readable decisions file"):
        Decisions.load(tmp_path)
    (tmp_path / DECISIONS_FILE).write_text(json.dumps({"cuts": [2.0, 1.0, 3.0]}))
    with pytest.raises(DataError, match="non-decreasing"):
        Decisions.load(tmp_path)
    (tmp_path / DECISIONS_FILE).write_text(json.dumps({"cuts": [1, 2, 3], "typo": 1}))
    with pytest.raises(DataError, match="not a decisions file"):
        Decisions.load(tmp_path)
