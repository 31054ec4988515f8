"""One metrics path: the ECE binning, per-grade metrics, array metrics and NDCG for trainers,
the metrics.json writer and the shared summary table."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from ecomrel.eval import (
    array_metrics,
    classification_metrics,
    expected_calibration_error,
    format_value,
    load_metrics,
    metrics_table,
    ndcg_at_k,
    ranking_metrics,
    reliability_bins,
    summary_rows,
    write_metrics,
    write_metrics_json,
)
from ecomrel.grades import LREF_SCALE


def test_reliability_bins_and_ece_share_one_binning():
    # confidences 0.3 → bin 2 (0.2, 0.3]; 0.35 → bin 3 (0.3, 0.4]; 0.9 → bin 8; 1.0 → bin 9
    probs = np.array(
        [[0.3, 0.3, 0.2, 0.2], [0.35, 0.25, 0.2, 0.2], [0.9, 0.1, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]]
    )
    y = np.array([0, 1, 0, 3])
    bins = reliability_bins(probs, y, n_bins=10)
    assert bins.count.tolist() == [0, 0, 1, 1, 0, 0, 0, 0, 1, 1]
    assert bins.accuracy[2] == 1.0 and bins.accuracy[3] == 0.0 and bins.accuracy[9] == 1.0
    assert bins.confidence[8] == pytest.approx(0.9)
    want = (abs(1 - 0.3) + abs(0 - 0.35) + abs(1 - 0.9) + abs(1 - 1.0)) / 4
    assert bins.ece == pytest.approx(want)
    assert expected_calibration_error(probs, y) == pytest.approx(want)
    assert classification_metrics(y, probs.argmax(1), ["ece"], probs=probs)["ece"] == pytest.approx(want)
    assert math.isnan(bins.to_dict()["accuracy"][0] or math.nan)  # empty bins are null in JSON


def test_judge_metrics_use_the_shared_ece():
    from ecomrel.llm.judge import judge_metrics

    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(4), size=50)
    grades = rng.integers(0, 4, 50)
    scores = pd.DataFrame(probs, columns=[f"p_{i}" for i in range(4)])
    scores["pred_grade"] = probs.argmax(1)
    scores["expected_grade"] = probs @ np.arange(4)
    m = judge_metrics(scores, grades)
    assert m["ece"] == pytest.approx(expected_calibration_error(probs, grades))
    assert m["rmse_expected"] == pytest.approx(np.sqrt(np.mean((scores["expected_grade"] - grades) ** 2)))


def test_per_grade_f1_and_optimistic_error_share():
    y_true = [3, 2, 1, 0, 3, 2, 0]
    y_pred = [3, 3, 1, 0, 2, 3, 1]  # errors: 2→3, 3→2, 2→3, 0→1 → 3 of 4 over-grade
    m = classification_metrics(y_true, y_pred, ["f1", "recall", "optimistic_error_share", "optimistic_rate"])
    assert m["f1_complement"] == pytest.approx(2 * 0.5 * 1 / 1.5)  # precision 1/2, recall 1
    assert m["recall_irrelevant"] == pytest.approx(0.5) and m["recall_substitute"] == 0.0
    assert m["optimistic_error_share"] == pytest.approx(3 / 4)
    assert m["optimistic_rate"] == pytest.approx(3 / 7)
    perfect = classification_metrics([1, 2], [1, 2], ["optimistic_error_share"])
    assert math.isnan(perfect["optimistic_error_share"])


def test_expected_grade_errors_come_from_probabilities():
    probs = np.array([[0.0, 0.0, 0.5, 0.5], [1.0, 0.0, 0.0, 0.0]])
    m = classification_metrics([3, 1], [2, 0], probs=probs)
    assert m["mae_expected"] == pytest.approx((0.5 + 1.0) / 2)
    assert m["rmse_expected"] == pytest.approx(math.sqrt((0.25 + 1.0) / 2))


def _hand_ndcg(query_ids, scores, gains, k):
    """The distill trainer's former hand-written NDCG (stable sort, linear gains): the reference."""
    df = pd.DataFrame({"q": query_ids, "s": scores, "g": np.asarray(gains, dtype=float)})
    disc = 1.0 / np.log2(np.arange(2, k + 2))
    vals = []
    for _, grp in df.groupby("q", sort=False):
        ideal = np.sort(grp["g"].to_numpy())[::-1][:k]
        idcg = float((ideal * disc[: len(ideal)]).sum())
        if idcg <= 0:
            continue
        ranked = grp.sort_values("s", ascending=False, kind="stable")["g"].to_numpy()[:k]
        vals.append(float((ranked * disc[: len(ranked)]).sum()) / idcg)
    return float(np.mean(vals))


@pytest.mark.parametrize("k", [3, 10])
def test_array_ndcg_is_ranx_and_matches_a_stable_sort_with_ties(k):
    rng = np.random.default_rng(1)
    q = rng.integers(0, 12, 200).astype(str)
    s = rng.integers(0, 4, 200).astype(float)  # many ties
    g = rng.integers(0, 4, 200)
    assert ndcg_at_k(q, s, g, k) == pytest.approx(_hand_ndcg(q, s, g, k), abs=1e-12)
    # the same as the frame path ranking_metrics (ids in array order keep the tie rule)
    pid = [f"{i:03d}" for i in range(200)]
    judged = pd.DataFrame({"query_id": q, "product_id": pid, "grade": g})
    run = pd.DataFrame({"query_id": q, "product_id": pid, "score": s})
    assert ranking_metrics(judged, run, [f"ndcg@{k}"])[f"ndcg@{k}"] == pytest.approx(ndcg_at_k(q, s, g, k))
    assert math.isnan(ndcg_at_k(["a", "a"], [1.0, 2.0], [0, 0]))


def test_array_metrics_names_and_five_level_scale():
    rng = np.random.default_rng(2)
    probs = rng.dirichlet(np.ones(5), size=40)
    y = rng.integers(0, 5, 40)
    q = np.repeat(np.arange(8).astype(str), 5)
    m = array_metrics(y, probs, query_ids=q, scale=LREF_SCALE)
    assert m["n"] == 40
    assert {"f1_macro", "f1_weighted", "accuracy", "rmse", "rmse_expected", "ece", "ndcg@10"} <= set(m)
    assert "recall_trivial" in m and "f1_significant" in m and "macro_f1" not in m
    assert m["ndcg@10"] == pytest.approx(ndcg_at_k(q, probs @ np.arange(5), y, 10))


def test_metrics_json_is_valid_json_with_null_for_nan(tmp_path):
    path = tmp_path / "eval" / "metrics.json"
    write_metrics(path, {"bm25": {"f1_macro": np.float32(0.25), "n_pairs": np.int64(3), "ece": float("nan")}})
    write_metrics(
        path,
        {"judge": {"ndcg@10": float("inf"), "segments": {"kind": {"negation": {"f1_macro": float("nan")}}}}},
    )
    text = path.read_text()
    assert "NaN" not in text and "Infinity" not in text
    data = json.loads(text)
    assert data["bm25"] == {"ece": None, "f1_macro": 0.25, "n_pairs": 3}
    assert data["judge"]["segments"]["kind"]["negation"]["f1_macro"] is None
    write_metrics(path, {"judge2": {"f1_macro": 0.1}}, replace=["judge"])
    assert set(load_metrics(path)) == {"bm25", "judge2"}
    write_metrics_json({"x": {"a": float("nan")}}, path)
    assert load_metrics(path) == {"x": {"a": None}}


def test_summary_rows_order_and_formatting():
    metrics = {
        "student": {"f1_macro": 0.41234, "ndcg@10": 0.8, "n_pairs": 1997},
        "bm25": {"f1_macro": 0.3, "ndcg@10": 0.61, "n_pairs": 1997.0, "segments": {"kind": {}}},
        "orphan": {"f1_macro": None},
    }
    t = summary_rows(metrics, {"baselines": ["bm25"], "distill": ["student"]}, counts=["n_pairs"])
    assert [r.name for r in t.rows] == ["bm25", "student", "orphan"]
    assert [r.stage for r in t.rows] == ["baselines", "distill", None]
    assert t.columns == ["f1_macro", "ndcg@10", "n_pairs"] and t.labels == ["mF1", "NDCG10", "pairs"]
    assert t.rows[1].cells == ["0.412", "0.800", "1,997"]
    assert t.rows[0].cells[-1] == "1,997"  # a float count prints as an integer
    assert t.rows[2].cells == ["–", "–", "–"]
    assert format_value(273.456, "train_seconds") == "273.5" and format_value(7, "x") == "7"
    table = metrics_table(metrics, ["student", "bm25"])
    assert [c.header for c in table.columns][:3] == ["stage", "mF1", "NDCG10"]


def test_record_predictions_keeps_run_relative_paths(tmp_path):
    from ecomrel.eval import load_predictions_index, record_predictions

    run = tmp_path / "run"
    record_predictions(run, "bm25", run / "baselines" / "bm25.parquet", stage="baselines")
    record_predictions(
        run, "bm25@judge_subset", run / "baselines" / "bm25.parquet", queries_from=run / "judge" / "s.parquet"
    )
    record_predictions(run, "bm25", run / "baselines" / "bm25_v2.parquet", gains="esci")
    index = load_predictions_index(run)
    assert index["bm25"] == {"file": "baselines/bm25_v2.parquet", "split": "test", "gains": "esci"}
    assert index["bm25@judge_subset"]["queries_from"] == "judge/s.parquet"
