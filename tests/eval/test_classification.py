"""Classification metrics, evaluate()'s join, the report and `ecomrel eval`, on hand-made frames."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from ecomrel.data.schema import DataError, Dataset
from ecomrel.eval import (
    classification_metrics,
    confusion_frame,
    evaluate,
    expected_calibration_error,
    load_stage_metrics,
    write_stage_metrics,
)
from ecomrel.eval.classification import grade_to_raw

Y_TRUE = [3, 2, 1, 0, 3, 2]
Y_PRED = [3, 3, 1, 0, 2, 2]


def test_counting_metrics_match_hand_values():
    m = classification_metrics(Y_TRUE, Y_PRED)
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["f1_micro"] == pytest.approx(4 / 6)
    # per grade F1: 0 → 1, 1 → 1, 2 → 2·1/(2+2)=0.5, 3 → 0.5
    assert m["f1_macro"] == pytest.approx((1 + 1 + 0.5 + 0.5) / 4)
    assert m["f1_weighted"] == pytest.approx((1 * 1 + 1 * 1 + 0.5 * 2 + 0.5 * 2) / 6)
    assert m["precision_exact"] == pytest.approx(0.5) and m["recall_substitute"] == pytest.approx(0.5)
    assert m["mae"] == pytest.approx(2 / 6)
    assert m["rmse"] == pytest.approx(math.sqrt(2 / 6))
    assert m["optimistic_rate"] == pytest.approx(1 / 6)
    assert m["pessimistic_rate"] == pytest.approx(1 / 6)
    assert "ece" not in m and "raw_rmse" not in m  # their inputs were not given


def test_macro_f1_ignores_grades_never_seen_and_undefined_precision_is_nan():
    # WANDS-like: no complement anywhere; substitute is judged but never predicted.
    m = classification_metrics([3, 2, 0, 0], [3, 3, 0, 0], ["f1_macro", "precision", "recall"])
    assert m["f1_macro"] == pytest.approx((1 + 0 + 2 / 3) / 3)
    assert math.isnan(m["precision_substitute"]) and math.isnan(m["recall_complement"])
    assert m["recall_substitute"] == 0.0


def test_raw_scale_errors_use_the_linear_map():
    assert grade_to_raw(np.array([0, 1.5, 3]), (1.0, 3.0), 3).tolist() == [1.0, 2.0, 3.0]
    m = classification_metrics(
        [3, 0], [3, 0], ["raw_mae", "raw_rmse"], raw_true=np.array([2.67, 1.33]), raw_range=(1.0, 3.0)
    )
    assert m["raw_mae"] == pytest.approx(0.33)
    # an expected grade (Σ k·p_k) is preferred over the hard grade
    m = classification_metrics([3], [3], ["raw_mae"], raw_true=np.array([2.0]), expected=np.array([1.5]))
    assert m["raw_mae"] == pytest.approx(0.0)


def test_ece_hand_computed():
    probs = np.array([[0, 0, 0.1, 0.9], [0.6, 0.4, 0, 0]])
    # conf 0.9 correct (bin (0.8, 0.9]); conf 0.6 wrong (bin (0.5, 0.6])
    assert expected_calibration_error(probs, np.array([3, 1])) == pytest.approx(0.5 * 0.1 + 0.5 * 0.6)
    # perfectly calibrated: confidence 0.5, half right
    probs = np.array([[0.5, 0.5, 0, 0]] * 4)
    assert expected_calibration_error(probs, np.array([0, 0, 1, 1])) == pytest.approx(0.0)
    assert classification_metrics(
        [3, 1], [3, 0], ["ece"], probs=np.array([[0, 0, 0.1, 0.9], [0.6, 0.4, 0, 0]])
    )["ece"] == pytest.approx(0.35)


def test_missing_inputs_and_unknown_names_raise():
    with pytest.raises(ValueError, match="ece"):
        classification_metrics([1], [1], ["ece"])
    with pytest.raises(ValueError, match="raw_score"):
        classification_metrics([1], [1], ["raw_rmse"])
    with pytest.raises(ValueError, match="unknown"):
        classification_metrics([1], [1], ["f2"])


def test_confusion_frame_is_labelled_by_grade_name():
    cm = confusion_frame(np.array(Y_TRUE), np.array(Y_PRED))
    assert list(cm.index) == ["irrelevant", "complement", "substitute", "exact"]
    assert cm.loc["substitute", "exact"] == 1 and cm.loc["exact", "exact"] == 1 and cm.to_numpy().sum() == 6


# --- evaluate() ------------------------------------------------------------------------


def _judged() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "query_id": ["q1", "q1", "q1", "q2", "q2"],
            "product_id": ["a", "b", "c", "a", "d"],
            "grade": [3, 1, 0, 2, 0],
            "true_grade": [3, 2, 0, 2, 0],
            "raw_score": [3.0, 1.67, 1.0, 2.33, 1.0],
        }
    )


def _pred() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "query_id": ["q1", "q1", "q2", "q2"],
            "product_id": ["a", "b", "a", "x"],  # c and d missing; x unjudged
            "score": [0.9, 0.5, 0.8, 0.1],
            "pred_grade": [3, 2, 2, 0],
            "p_0": [0.0, 0.1, 0.0, 1.0],
            "p_1": [0.0, 0.2, 0.1, 0.0],
            "p_2": [0.1, 0.6, 0.8, 0.0],
            "p_3": [0.9, 0.1, 0.1, 0.0],
        }
    )


def test_evaluate_reports_missing_pairs_and_both_targets():
    rep = evaluate(_judged(), _pred())
    assert rep.counts == {
        "n_pairs": 5,
        "n_queries": 2,
        "n_predicted": 3,
        "n_missing_predictions": 2,
        "n_unjudged_predictions": 1,
    }
    assert rep["accuracy"] == pytest.approx(2 / 3)  # a:3=3, b:1≠2, a:2=2
    assert rep["optimistic_rate"] == pytest.approx(1 / 3)
    assert rep["true_grade/accuracy"] == pytest.approx(1.0)  # the "error" on b was annotator noise
    assert rep["true_grade/optimistic_rate"] == 0.0
    assert "ece" in rep and "raw_rmse" in rep and "true_grade/raw_rmse" not in rep
    assert "ndcg@10" in rep and "true_grade/ndcg@10" in rep
    assert set(rep.confusion) == {"grade", "true_grade"}
    text = str(rep)
    assert "vs true_grade" in text and "n_missing_predictions" in text
    payload = json.loads(rep.to_json())
    assert payload["confusion"]["grade"]["labels"][3] == "exact"


def test_evaluate_on_a_data_folder_split(tmp_path):
    products = pd.DataFrame({"product_id": ["a", "b", "c", "d"], "title": ["w", "x", "y", "z"]})
    queries = pd.DataFrame({"query_id": ["q1", "q2"], "text": ["one", "two"]})
    splits = pd.DataFrame({"query_id": ["q1", "q2"], "split": ["dev", "test"]})
    ds = Dataset(products=products, queries=queries, judgments=_judged(), splits=splits)
    ds.save(tmp_path)
    rep = evaluate(tmp_path, _pred(), split="dev", metrics=["accuracy", "ndcg@3"])
    assert rep.counts["n_pairs"] == 3 and rep.counts["n_unjudged_predictions"] == 0
    assert set(rep.metrics) == {"accuracy", "ndcg@3", "true_grade/accuracy", "true_grade/ndcg@3"}
    with pytest.raises(DataError, match="no judged pairs"):
        evaluate(tmp_path, _pred(), split="train")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda p: pd.concat([p, p.iloc[[0]]]), "row 5: duplicate pair"),
        (lambda p: p.assign(score=[0.1, np.nan, 0.2, 0.3]), "row 2: field score"),
        (lambda p: p.assign(pred_grade=[0, 1, 7, 0]), "row 3: field pred_grade"),
        (lambda p: p.assign(p_3=[0.9, 0.1, 0.5, 0.0]), "row 3: fields p_0..p_3"),
        (lambda p: p.drop(columns=["p_2"]), "probability columns"),
        (lambda p: p.drop(columns=["score"]), "missing column"),
    ],
)
def test_bad_predictions_raise_data_errors_naming_the_row(change, message):
    with pytest.raises(DataError, match=message):
        evaluate(_judged(), change(_pred()))


def test_stage_metrics_merge_and_nan_is_null(tmp_path):
    path = tmp_path / "eval" / "metrics.json"
    write_stage_metrics(path, "bm25", {"ndcg@10": 0.5, "n_pairs": 3})
    write_stage_metrics(path, "judge", {"ndcg@10": 0.7, "ece": float("nan")})
    data = load_stage_metrics(path)
    assert data == {"bm25": {"ndcg@10": 0.5, "n_pairs": 3}, "judge": {"ndcg@10": 0.7, "ece": None}}
    assert "NaN" not in path.read_text()


def test_eval_cli_prints_and_accumulates_stages(tmp_path):
    from ecomrel.cli import app

    products = pd.DataFrame({"product_id": ["a", "b", "c", "d"], "title": ["w", "x", "y", "z"]})
    queries = pd.DataFrame({"query_id": ["q1", "q2"], "text": ["one", "two"]})
    splits = pd.DataFrame({"query_id": ["q1", "q2"], "split": ["dev", "dev"]})
    Dataset(products=products, queries=queries, judgments=_judged(), splits=splits).save(tmp_path / "data")
    _pred().to_parquet(tmp_path / "pred.parquet")
    out = tmp_path / "eval" / "metrics.json"
    runner = CliRunner()
    args = [
        "eval",
        "--data",
        str(tmp_path / "data"),
        "--pred",
        str(tmp_path / "pred.parquet"),
        "--split",
        "dev",
    ]
    res = runner.invoke(app, [*args, "--out", str(out), "--stage", "one"])
    assert res.exit_code == 0, res.output
    assert "f1_macro" in res.output
    res = runner.invoke(app, [*args, "--out", str(out), "--stage", "two", "--gains", "3:1,2:0.1,1:0.01,0:0"])
    assert res.exit_code == 0, res.output
    data = json.loads(out.read_text())
    assert set(data) == {"one", "two"} and data["one"]["n_missing_predictions"] == 2
    assert (tmp_path / "eval" / "two.report.json").exists()
    bad = runner.invoke(app, [*args, "--metrics", "nope"])
    assert bad.exit_code == 2 and "unknown metric" in bad.output and "Traceback" not in bad.output
