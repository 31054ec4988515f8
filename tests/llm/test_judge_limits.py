"""``judge --limit-queries`` (whole queries, exclusive with ``--limit``) and seconds that add up
across a kill and resume (issue 13 item 7)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from ecomrel.data.schema import Dataset
from ecomrel.errors import ConfigError
from ecomrel.llm.judge import run_judge, select_pairs, total_seconds
from ecomrel.llm.judge_config import JudgeConfig


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory, make_pairs):
    pairs = make_pairs(n_queries=4, per_query=5)
    products = pairs[["product_id", "title", "brand", "category", "attributes", "description", "price"]]
    queries = pairs[["query_id", "query"]].drop_duplicates("query_id").rename(columns={"query": "text"})
    judgments = pairs[["query_id", "product_id", "grade"]].assign(source_label=pairs["grade"].astype(str))
    out = tmp_path_factory.mktemp("judge_limits")
    Dataset(products=products, queries=queries, judgments=judgments).save(out)
    return out


def _cfg(model_dir, data_dir, out, **kw):
    return JudgeConfig(
        model=str(model_dir), data=data_dir, out=out, chunk_size=5, batch_size=4, threads=1, **kw
    )


def test_limit_queries_takes_whole_queries_and_excludes_limit(data_dir):
    ds = Dataset.load(data_dir)
    sub = select_pairs(ds, limit_queries=2, seed=0)
    sizes = sub.groupby("query_id").size()
    assert len(sizes) == 2 and (sizes == 5).all()  # every pair of each chosen query
    assert select_pairs(ds, limit_queries=2, seed=0).equals(sub)  # seeded
    assert len(select_pairs(ds, limit_queries=99)) == 20
    # the same seeded order as --limit: limit=7 cuts the second query of that order
    assert set(select_pairs(ds, limit=7, seed=0)["query_id"]) == set(sub["query_id"])
    with pytest.raises(ConfigError, match="mutually exclusive"):
        select_pairs(ds, limit=3, limit_queries=2)
    from ecomrel.config import validate_config

    with pytest.raises(ConfigError, match="mutually exclusive"):
        validate_config(JudgeConfig, {"data": data_dir, "out": data_dir, "limit": 3, "limit_queries": 2})


def test_cli_limit_queries_and_the_exclusive_error(tiny_model_dir, data_dir, tmp_path):
    from typer.testing import CliRunner

    from ecomrel.cli import app

    base = ["judge", "--model", str(tiny_model_dir), "--data", str(data_dir), "--threads", "1"]
    r = CliRunner().invoke(app, [*base, "--out", str(tmp_path / "j"), "--limit-queries", "1"])
    assert r.exit_code == 0, r.output
    scores = pd.read_parquet(tmp_path / "j" / "scores.parquet")
    assert scores["query_id"].nunique() == 1 and len(scores) == 5
    bad = CliRunner().invoke(
        app, [*base, "--out", str(tmp_path / "k"), "--limit", "3", "--limit-queries", "1"]
    )
    assert bad.exit_code == 2 and "mutually exclusive" in bad.output and "Traceback" not in bad.output
    assert not (tmp_path / "k").exists()


def test_seconds_add_up_across_a_kill_and_resume(tiny_model_dir, data_dir, tmp_path):
    class Killed(Exception):
        pass

    def kill_after_two(i):
        if i == 1:
            raise Killed

    with pytest.raises(Killed):
        run_judge(_cfg(tiny_model_dir, data_dir, tmp_path), on_chunk=kill_after_two)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    first = manifest["segments"]
    assert len(first) == 1 and first[0]["seconds"] > 0 and "finished" not in first[0]

    result = run_judge(_cfg(tiny_model_dir, data_dir, tmp_path))
    assert result["resumed"] == 10 and result["segments"] == 2
    assert result["seconds"] == pytest.approx(first[0]["seconds"] + result["segment_seconds"], abs=0.01)
    assert result["seconds"] > result["segment_seconds"]
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert total_seconds(manifest) == pytest.approx(result["seconds"], abs=1e-3)
    assert manifest["segments"][1]["finished"] and manifest["segments"][1]["scored"] == 10
