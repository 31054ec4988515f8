"""``rank train`` on features whose judge file covers only another split names the split and column."""

from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

from ecomrel.cli import app

pytest.importorskip("lightgbm")


def test_rank_train_names_the_split_without_expected_grade(tmp_path):
    from ecomrel.data.sample import write_sample

    data = tmp_path / "data"
    write_sample(data, n_products=80, n_queries=20, seed=0)
    j = pd.read_parquet(data / "judgments.parquet")
    splits = pd.read_parquet(data / "splits.parquet")
    test_q = set(splits.loc[splits["split"] == "test", "query_id"])
    judge = j[j["query_id"].isin(test_q)][["query_id", "product_id"]].assign(expected_grade=1.5, score=1.5)
    judge.to_parquet(tmp_path / "scores.parquet", index=False)
    feat = tmp_path / "feat"
    run = CliRunner().invoke
    r = run(
        app,
        [
            "rank",
            "features",
            "--data",
            str(data),
            "--judge",
            str(tmp_path / "scores.parquet"),
            "--out",
            str(feat),
        ],
    )
    assert r.exit_code == 0, r.output
    r = run(
        app, ["rank", "train", "--data", str(data), "--features", str(feat), "--out", str(tmp_path / "m")]
    )
    assert r.exit_code == 2, r.output
    assert "split 'train'" in r.output and "expected_grade" in r.output and "no rows to rank" not in r.output
