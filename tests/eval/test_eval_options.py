"""``ecomrel eval`` options (issue 13 item 5): NDCG over graded queries, source-label gains,
RMSE on the calibrated source scale; the options are recorded in metrics.json."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from ecomrel.errors import ConfigError, DataError
from ecomrel.eval import evaluate, ranking_metrics
from ecomrel.eval.ranking import graded_queries

# q1 is graded (3, 2, 0); q2 has only "exact" products: NDCG = 1 under any ranking.
JUDGED = pd.DataFrame(
    {
        "query_id": ["q1", "q1", "q1", "q2", "q2"],
        "product_id": ["a", "b", "c", "d", "e"],
        "grade": [3, 2, 0, 3, 3],
        "raw_score": [3.0, 2.33, 1.0, 2.67, 3.0],
    }
)
PRED = pd.DataFrame(
    {
        "query_id": ["q1", "q1", "q1", "q2", "q2"],
        "product_id": ["a", "b", "c", "d", "e"],
        "score": [0.2, 0.9, 0.5, 0.9, 0.1],  # q1 ranks b, c, a; q2 ranks d, e
        "pred_grade": [1, 3, 2, 3, 3],
    }
)


def _dcg(gains):
    return sum(g / math.log2(i + 2) for i, g in enumerate(gains))


def test_graded_queries_leave_out_queries_whose_products_share_one_grade():
    assert graded_queries(JUDGED) == {"q1"}
    q1 = _dcg([2, 0, 3]) / _dcg([3, 2, 0])
    every = ranking_metrics(JUDGED, PRED, ["ndcg@10"])["ndcg@10"]
    graded = ranking_metrics(JUDGED, PRED, ["ndcg@10"], ndcg_queries="graded")["ndcg@10"]
    assert every == pytest.approx((q1 + 1.0) / 2)  # q2 scores 1 whatever the ranking
    assert graded == pytest.approx(q1)
    with pytest.raises(ConfigError, match="ndcg_queries"):
        ranking_metrics(JUDGED, PRED, ["ndcg@10"], ndcg_queries="some")


def test_source_gains_are_the_raw_label_minus_the_scale_floor():
    m = ranking_metrics(JUDGED, PRED, ["ndcg@10"], gains="source", raw_low=1.0)["ndcg@10"]
    q1 = _dcg([1.33, 0, 2.0]) / _dcg([2.0, 1.33, 0])
    q2 = _dcg([1.67, 2.0]) / _dcg([2.0, 1.67])  # with source gains q2 is no longer trivial
    assert m == pytest.approx((q1 + q2) / 2, abs=1e-6)
    assert m == pytest.approx(ranking_metrics(JUDGED, PRED, ["ndcg@10"], gains="raw-1")["ndcg@10"])
    with pytest.raises(DataError, match="raw_score"):
        ranking_metrics(JUDGED.drop(columns="raw_score"), PRED, ["ndcg@10"], gains="source")


def test_raw_rmse_linear_vs_calibrated_and_options_recorded():
    pred = PRED.assign(expected_grade=[2.5, 1.0, 0.5, 3.0, 2.0])
    linear = evaluate(JUDGED, pred, metrics=["raw_rmse", "rmse_expected", "ndcg@10"])
    raw_lin = 1 + 2 * pred["expected_grade"].to_numpy() / 3
    assert linear["raw_rmse"] == pytest.approx(np.sqrt(np.mean((raw_lin - JUDGED["raw_score"]) ** 2)))
    assert linear.options == {
        "ndcg_queries": "all",
        "gains": "grade",
        "raw_scale": "linear",
        "raw_range": [1.0, 3.0],
    }
    cal = pred.assign(calibrated_score=[2.9, 2.3, 1.1, 2.7, 2.9])
    r = evaluate(
        JUDGED,
        cal,
        metrics=["raw_rmse", "rmse_expected", "ndcg@10"],
        raw_scale="calibrated",
        ndcg_queries="graded",
    )
    assert r["raw_rmse"] == pytest.approx(
        np.sqrt(np.mean((cal["calibrated_score"] - JUDGED["raw_score"]) ** 2))
    )
    assert r["rmse_expected"] == pytest.approx(linear["rmse_expected"])  # grade scale: unchanged
    assert r.options["raw_scale"] == "calibrated" and r.options["ndcg_queries"] == "graded"
    assert r.counts["n_graded_queries"] == 1 and r.row()["options"]["raw_scale"] == "calibrated"
    with pytest.raises(DataError, match="calibrated_score"):
        evaluate(JUDGED, pred, metrics=["raw_rmse"], raw_scale="calibrated")
    with pytest.raises(DataError, match="row 2: field calibrated_score"):
        evaluate(JUDGED, cal.assign(calibrated_score=[2.0, np.nan, 1, 1, 1]), raw_scale="calibrated")
    with pytest.raises(ConfigError, match="raw_scale"):
        evaluate(JUDGED, pred, raw_scale="isotonic")


def test_cli_eval_options_reach_metrics_json_and_bad_ones_exit_2(tmp_path):
    from typer.testing import CliRunner

    from ecomrel.cli import app
    from ecomrel.data.schema import Dataset

    products = pd.DataFrame({"product_id": list("abcde"), "title": list("abcde")})
    queries = pd.DataFrame({"query_id": ["q1", "q2"], "text": ["one", "two"]})
    data = Dataset(products=products, queries=queries, judgments=JUDGED.copy()).save(tmp_path / "data")
    pred_file = tmp_path / "pred.parquet"
    PRED.assign(expected_grade=[2.5, 1.0, 0.5, 3.0, 2.0]).to_parquet(pred_file)
    out = tmp_path / "eval" / "metrics.json"
    args = ["eval", "--data", str(data), "--pred", str(pred_file), "--out", str(out)]
    r = CliRunner().invoke(app, [*args, "--ndcg-queries", "graded", "--gains", "source"])
    assert r.exit_code == 0, r.output
    row = json.loads(out.read_text())["eval"]
    assert row["options"]["ndcg_queries"] == "graded" and row["options"]["gains"] == "source"
    assert row["n_graded_queries"] == 1
    bad = CliRunner().invoke(app, [*args, "--raw-scale", "calibrated"])
    assert bad.exit_code == 2 and "calibrated_score" in bad.output and "Traceback" not in bad.output
    help_text = CliRunner().invoke(app, ["eval", "--help"]).output
    assert "--ndcg-queries" in help_text and "--raw-scale" in help_text
