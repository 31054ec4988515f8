"""Segments: frequency bands and per-segment metrics in evaluate(), metrics.json and `ecomrel eval --by`."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from ecomrel.data.schema import DataError, Dataset
from ecomrel.eval import available_segments, evaluate, frequency_band


def test_frequency_band_by_traffic_share():
    q = pd.DataFrame(
        {"query_id": list("abcdefg"), "frequency": [50, 20, 10, 8, 6, 4, 2]}
    )  # total 100; cumulative share before each: 0, .5, .7, .8, .88, .94, .98
    band = frequency_band(q)
    assert band.tolist() == ["head", "torso", "torso", "tail", "tail", "tail", "tail"]
    q2 = q.assign(frequency=[50, None, 10, 8, 6, 4, 2])
    assert frequency_band(q2)[1] == "unknown"
    with pytest.raises(DataError, match="frequency"):
        frequency_band(q.drop(columns="frequency"))


def _dataset() -> Dataset:
    products = pd.DataFrame({"product_id": list("abcd"), "title": list("wxyz")})
    queries = pd.DataFrame(
        {
            "query_id": ["q1", "q2", "q3"],
            "text": ["one", "two", "three"],
            "frequency": [100, 30, 10],
            "kind": ["bare", "negation", None],
            "locale": ["us", "us", "de"],
        }
    )
    judgments = pd.DataFrame(
        {
            "query_id": ["q1", "q1", "q2", "q2", "q3", "q3"],
            "product_id": ["a", "b", "a", "c", "c", "d"],
            "grade": [3, 0, 2, 0, 3, 1],
        }
    )
    splits = pd.DataFrame({"query_id": ["q1", "q2", "q3"], "split": ["test"] * 3})
    return Dataset(products=products, queries=queries, judgments=judgments, splits=splits)


def _pred() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "query_id": ["q1", "q1", "q2", "q2", "q3", "q3"],
            "product_id": ["a", "b", "a", "c", "c", "d"],
            "score": [0.9, 0.1, 0.2, 0.8, 0.7, 0.6],
            "pred_grade": [3, 0, 0, 2, 3, 1],
        }
    )


def test_evaluate_by_kind_band_and_a_user_column():
    ds = _dataset()
    rep = evaluate(ds, _pred(), split="test", by=["kind", "band", "locale"], metrics=["accuracy", "ndcg@10"])
    assert set(rep.segments) == {"kind", "band", "locale"}
    assert list(rep.segments["kind"]) == ["bare", "negation", "unknown"]  # null kind → unknown, last
    assert rep.segments["kind"]["bare"]["accuracy"] == 1.0 and rep.segments["kind"]["bare"]["n_pairs"] == 2
    assert rep.segments["kind"]["negation"]["accuracy"] == 0.0
    assert rep.segments["kind"]["negation"]["ndcg@10"] < 1.0
    # bands: q1 carries 100/140 → head; q2 starts at 0.71 → torso; q3 starts at 0.93 → tail
    assert list(rep.segments["band"]) == ["head", "torso", "tail"]
    assert rep.segments["locale"]["de"]["n_queries"] == 1
    assert rep["accuracy"] == pytest.approx(4 / 6)
    row = rep.row()
    assert row["segments"]["band"]["head"]["accuracy"] == 1.0 and row["accuracy"] == rep["accuracy"]
    assert "segments" not in rep.flat()
    assert "by kind" in str(rep)
    assert available_segments(ds.queries) == ["kind", "band"]


def test_unknown_segment_column_is_a_data_error():
    with pytest.raises(DataError, match="no column 'intent'.*available: frequency, kind, locale, band"):
        evaluate(_dataset(), _pred(), by=["intent"])


def test_eval_cli_by_writes_segments_into_metrics_json(tmp_path):
    from ecomrel.cli import app

    _dataset().save(tmp_path / "data")
    _pred().to_parquet(tmp_path / "pred.parquet")
    out = tmp_path / "eval" / "metrics.json"
    args = ["eval", "--data", str(tmp_path / "data"), "--pred", str(tmp_path / "pred.parquet")]
    res = CliRunner().invoke(app, [*args, "--by", "kind,band", "--out", str(out), "--stage", "m"])
    assert res.exit_code == 0, res.output
    assert "by kind" in res.output and "by band" in res.output
    data = json.loads(out.read_text())
    assert set(data["m"]["segments"]) == {"kind", "band"}
    assert data["m"]["segments"]["kind"]["bare"]["n_pairs"] == 2
    bad = CliRunner().invoke(app, [*args, "--by", "nope"])
    assert bad.exit_code == 2 and "no column 'nope'" in bad.output
