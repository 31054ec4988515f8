"""Batch judging: the prediction-file contract, resume after a kill, CumPT tuning, the CLI."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from ecomrel.data.schema import Dataset
from ecomrel.errors import UserError as DataError  # ConfigError for options, DataError for files
from ecomrel.llm import judge as judge_mod
from ecomrel.llm.judge import plan_chunks, run_judge, select_pairs
from ecomrel.llm.judge_config import JudgeConfig

P = [f"p_{g}" for g in range(4)]
CONTRACT = ["query_id", "product_id", "score", "pred_grade", *P, "expected_grade", "tier"]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory, make_pairs):
    pairs = make_pairs(n_queries=4, per_query=5)
    products = pairs[["product_id", "title", "brand", "category", "attributes", "description", "price"]]
    queries = pairs[["query_id", "query"]].drop_duplicates("query_id").rename(columns={"query": "text"})
    judgments = pairs[["query_id", "product_id", "grade"]].assign(source_label=pairs["grade"].astype(str))
    splits = pd.DataFrame({"query_id": ["q0", "q1", "q2", "q3"], "split": ["train", "dev", "dev", "test"]})
    out = tmp_path_factory.mktemp("judge_data")
    Dataset(products=products, queries=queries, judgments=judgments, splits=splits).save(out)
    return out


def _cfg(model_dir, data_dir, out, **kw):
    return JudgeConfig(
        model=str(model_dir), data=data_dir, out=out, chunk_size=5, batch_size=4, threads=1, **kw
    )


@pytest.fixture(scope="module")
def full_run(tiny_model_dir, data_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("judge_full")
    return out, run_judge(_cfg(tiny_model_dir, data_dir, out))


def test_prediction_file_contract(full_run, data_dir):
    out, result = full_run
    scores = pd.read_parquet(out / "scores.parquet")
    assert list(scores.columns) == CONTRACT
    assert len(scores) == 20 == result["n_pairs"] == result["scored_now"]
    assert not scores.duplicated(["query_id", "product_id"]).any()
    np.testing.assert_allclose(scores[P].sum(axis=1), 1.0, atol=1e-9)
    assert (scores["score"] == scores["expected_grade"]).all()
    assert set(scores["tier"]) <= {"Good", "Mid", "Bad"}
    assert scores["pred_grade"].dtype.kind == "i"
    assert result["pairs_per_s"] > 0 and (out / "cumpt_thresholds.json").is_file()
    assert {"all", "dev", "train", "test"} <= set(result["metrics"])
    assert {"f1_macro", "f1_weighted", "rmse", "ece", "optimistic_rate"} <= set(result["metrics"]["all"])
    manifest = json.loads((out / "manifest.json").read_text())
    assert len(manifest["done"]) == manifest["n_chunks"] == 4


def test_rerun_scores_nothing(full_run, tiny_model_dir, data_dir):
    out, _ = full_run
    again = run_judge(_cfg(tiny_model_dir, data_dir, out))
    assert again["scored_now"] == 0 and again["resumed"] == 20


def test_killed_run_resumes_without_rescoring(tiny_model_dir, data_dir, tmp_path, full_run, monkeypatch):
    from ecomrel.llm import scorer

    scored_rows = []
    real = scorer.score_pairs

    def counting(model, tok, df, *a, **kw):
        scored_rows.extend(df["product_id"])
        return real(model, tok, df, *a, **kw)

    monkeypatch.setattr(scorer, "score_pairs", counting)

    class Killed(Exception):
        pass

    def kill_after_two(i):
        if i == 1:
            raise Killed

    with pytest.raises(Killed):
        run_judge(_cfg(tiny_model_dir, data_dir, tmp_path), on_chunk=kill_after_two)
    assert not (tmp_path / "scores.parquet").exists()
    assert len(json.loads((tmp_path / "manifest.json").read_text())["done"]) == 2
    # a third part written but not yet in the manifest (killed between the two writes)
    shutil.copy(tmp_path / "parts" / "part-00000.parquet", tmp_path / "parts" / "part-00002.parquet")

    result = run_judge(_cfg(tiny_model_dir, data_dir, tmp_path))
    assert result["resumed"] == 10 and result["scored_now"] == 10
    assert sorted(scored_rows) == sorted(pd.read_parquet(full_run[0] / "scores.parquet")["product_id"])
    resumed = pd.read_parquet(tmp_path / "scores.parquet")
    reference = pd.read_parquet(full_run[0] / "scores.parquet")
    pd.testing.assert_frame_equal(
        resumed.drop(columns=P + ["score", "expected_grade"]),
        reference.drop(columns=P + ["score", "expected_grade"]),
    )
    assert np.abs(resumed[P].to_numpy() - reference[P].to_numpy()).max() < 1e-6


def test_other_configuration_is_refused(full_run, tiny_model_dir, data_dir):
    out, _ = full_run
    with pytest.raises(ValueError, match="different configuration"):
        run_judge(_cfg(tiny_model_dir, data_dir, out, limit=7))


def test_bfloat16_scores_close_to_float32_and_is_its_own_run(full_run, tiny_model_dir, data_dir, tmp_path):
    out, reference = full_run
    with pytest.raises(ValueError, match="different configuration"):  # never mixes precisions in one run
        run_judge(_cfg(tiny_model_dir, data_dir, out, dtype="bfloat16"))
    run_judge(_cfg(tiny_model_dir, data_dir, tmp_path / "bf16", dtype="bfloat16"))
    bf16 = pd.read_parquet(tmp_path / "bf16" / "scores.parquet")
    ref = pd.read_parquet(out / "scores.parquet")
    merged = ref.merge(bf16, on=["query_id", "product_id"], suffixes=("", "_bf16"))
    assert len(merged) == len(ref)
    gap = np.abs(merged[P].to_numpy() - merged[[f"{c}_bf16" for c in P]].to_numpy())
    assert 0 < gap.max() < 0.1  # a different precision, not a different answer
    sums = merged[[f"{c}_bf16" for c in P]].sum(axis=1).to_numpy()
    assert np.allclose(sums, 1.0, atol=1e-5)


def test_tuned_thresholds_saved_beside_model(tiny_model_dir, data_dir, tmp_path):
    model_dir = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model_dir)
    result = run_judge(_cfg(model_dir, data_dir, tmp_path / "out", tune_split="dev", split=None))
    saved = json.loads((model_dir / "cumpt_thresholds.json").read_text())
    assert saved["objective"] == "macro_f1" and set(saved["thresholds"]) == {"Good", "Mid"}
    assert json.loads((tmp_path / "out" / "cumpt_thresholds.json").read_text()) == saved
    # a later run without --thresholds finds them beside the model
    again = run_judge(_cfg(model_dir, data_dir, tmp_path / "out2", split="dev"))
    assert (
        json.loads((tmp_path / "out2" / "cumpt_thresholds.json").read_text())["thresholds"]
        == saved["thresholds"]
    )
    assert again["n_pairs"] == 10 and result["n_pairs"] == 20


def test_select_pairs_limit_takes_whole_queries(data_dir):
    ds = Dataset.load(data_dir)
    sub = select_pairs(ds, None, limit=10, seed=0)
    assert len(sub) == 10 and sub["query_id"].nunique() == 2
    assert select_pairs(ds, "dev")["query_id"].isin({"q1", "q2"}).all()
    with pytest.raises(DataError):
        select_pairs(Dataset(ds.products, ds.queries, ds.judgments), "dev")


def test_plan_chunks_keeps_queries_whole():
    pairs = pd.DataFrame({"query_id": list("aaabbbbbc")})
    assert plan_chunks(pairs, 2) == [(0, 3), (3, 8), (8, 9)]
    assert plan_chunks(pairs, 100) == [(0, 9)]


def test_cli(tiny_model_dir, data_dir, tmp_path):
    from typer.testing import CliRunner

    from ecomrel.cli import app

    res = CliRunner().invoke(
        app,
        [
            "judge",
            "--model",
            str(tiny_model_dir),
            "--data",
            str(data_dir),
            "--out",
            str(tmp_path),
            "--limit",
            "5",
            "--batch-size",
            "2",
            "--no-share-prefix",
            "--threads",
            "1",
        ],
    )
    assert res.exit_code == 0, res.output
    assert len(pd.read_parquet(tmp_path / "scores.parquet")) == 5
    bad = CliRunner().invoke(
        app,
        [
            "judge",
            "--model",
            str(tiny_model_dir),
            "--data",
            str(data_dir),
            "--out",
            str(tmp_path),
            "--split",
            "nosuch",
        ],
    )
    assert bad.exit_code == 2


def test_config_from_yaml(tmp_path, data_dir):
    p = tmp_path / "j.yaml"
    p.write_text(f"judge:\n  model: smollm2\n  data: {data_dir}\n  out: {tmp_path}\n  batch_size: 8\n")
    cfg = JudgeConfig.from_yaml(p, limit=3)
    assert cfg.batch_size == 8 and cfg.limit == 3 and cfg.share_prefix
    assert judge_mod.SCORES_FILE == "scores.parquet"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("judge:\n  batch_size: zero\n", "batch_size"),  # a bad value: the field is named
        ("judge:\n  batch_sise: 8\n", "batch_sise"),  # an unknown key: named too
        ("judge: [1, 2\n", "invalid YAML"),
        ("- a list\n", "must be a mapping"),
    ],
)
def test_config_from_yaml_errors_name_file_and_field(tmp_path, data_dir, text, expected):
    p = tmp_path / "bad_judge.yaml"
    if text.startswith("judge:\n"):
        text += f"  data: {data_dir}\n  out: {tmp_path}\n"
    p.write_text(text)
    with pytest.raises(DataError) as err:
        JudgeConfig.from_yaml(p)
    assert str(p) in str(err.value) and expected in str(err.value)
    with pytest.raises(DataError, match="config file not found"):
        JudgeConfig.from_yaml(tmp_path / "missing.yaml")


def test_cli_config_yaml_not_overridden_by_defaults(tiny_model_dir, data_dir, tmp_path):
    from typer.testing import CliRunner

    from ecomrel.cli import app

    cfg = tmp_path / "judge.yaml"
    cfg.write_text(f"model: {tiny_model_dir}\ndata: {data_dir}\nout: {tmp_path / 'o'}\n")
    with cfg.open("a") as f:
        f.write("limit: 5\nchunk_size: 2\nthreads: 1\n")
    res = CliRunner().invoke(app, ["judge", "--config", str(cfg), "--batch-size", "3"])
    assert res.exit_code == 0, res.output
    manifest = json.loads((tmp_path / "o" / "manifest.json").read_text())
    assert manifest["config"]["chunk_size"] == 2 and manifest["config"]["batch_size"] == 3
    assert CliRunner().invoke(app, ["judge", "--model", str(tiny_model_dir)]).exit_code == 2


# --- the grade scale comes from the config ---------------------------------------------------------


def test_five_level_lref_judge_scores_and_evaluates_end_to_end(tiny_model_dir, data_dir, tmp_path):
    """A 5-level (LREF) judge: run_judge with scale lref writes p_0..p_4, tiers for five grades, and
    ecomrel.eval.evaluate reads its output on the same scale."""
    from ecomrel.eval import evaluate
    from ecomrel.grades import LREF_SCALE

    ds = Dataset.load(data_dir)
    j = ds.judgments.copy()
    j.loc[j.index[::3], "grade"] = 4  # some pairs at LREF's top level (exact)
    five = tmp_path / "data5"
    Dataset(products=ds.products, queries=ds.queries, judgments=j, splits=ds.splits).save(five)

    out = tmp_path / "judge5"
    result = run_judge(_cfg(tiny_model_dir, five, out, scale="lref", tune_split="dev"))
    scores = pd.read_parquet(out / "scores.parquet")
    p5 = [f"p_{g}" for g in range(5)]
    assert list(scores.columns) == [
        "query_id",
        "product_id",
        "score",
        "pred_grade",
        *p5,
        "expected_grade",
        "tier",
    ]
    np.testing.assert_allclose(scores[p5].sum(axis=1), 1.0, atol=1e-9)
    assert scores["expected_grade"].between(0, 4).all() and scores["pred_grade"].between(0, 4).all()
    thresholds = json.loads((out / "cumpt_thresholds.json").read_text())
    assert thresholds["tiers"][0] == {"name": "Good", "min_grade": 3}  # significant + exact
    assert result["metrics"]["all"]["n"] == 20

    report = evaluate(five, out / "scores.parquet", scale=LREF_SCALE).flat()
    assert {"f1_macro", "rmse", "ndcg@10", "ece"} <= set(report)
    assert report["f1_macro"] == pytest.approx(result["metrics"]["all"]["f1_macro"])
    # a 4-grade run in the same folder is another configuration: refused, not mixed
    with pytest.raises(DataError, match="different configuration"):
        run_judge(_cfg(tiny_model_dir, five, out))


def test_judge_scale_is_validated_before_any_work(tiny_model_dir, data_dir, tmp_path):
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="unknown grade scale 'lrf'"):
        _cfg(tiny_model_dir, data_dir, tmp_path, scale="lrf")
    custom = _cfg(tiny_model_dir, data_dir, tmp_path, scale={"names": ["bad", "ok", "good"]})
    assert custom.grade_scale.names == ("bad", "ok", "good")


def test_thresholds_file_is_read_and_checked_before_the_first_pair(tiny_model_dir, data_dir, tmp_path):
    bad = tmp_path / "thr.json"
    bad.write_text("{not json")
    out = tmp_path / "run"
    with pytest.raises(DataError, match=str(bad)):
        run_judge(_cfg(tiny_model_dir, data_dir, out, thresholds=bad))
    five = tmp_path / "five.json"
    five.write_text(
        json.dumps(
            {
                "tiers": [{"name": "Good", "min_grade": 4}, {"name": "Bad", "min_grade": 0}],
                "thresholds": {"Good": 0.5},
            }
        )
    )
    with pytest.raises(DataError, match="4 grades"):
        run_judge(_cfg(tiny_model_dir, data_dir, out, thresholds=five))
    assert not (out / "manifest.json").exists() and not (out / "parts").exists()


def test_a_failed_start_does_not_block_the_corrected_run(tiny_model_dir, data_dir, tmp_path):
    out = tmp_path / "run"
    with pytest.raises(FileNotFoundError):
        run_judge(_cfg("nosuchmodel", data_dir, out))
    assert not (out / "manifest.json").exists()
    result = run_judge(_cfg(tiny_model_dir, data_dir, out))  # no --overwrite needed
    assert result["n_pairs"] == 20


def test_vllm_backend_without_vllm_is_a_missing_dependency(tiny_model_dir, data_dir, tmp_path, monkeypatch):
    from ecomrel.errors import MissingDependencyError
    from ecomrel.llm import vllm_backend

    monkeypatch.setattr(vllm_backend, "vllm_available", lambda: (False, "vllm is not installed"))
    out = tmp_path / "run"
    with pytest.raises(MissingDependencyError, match="vllm"):
        run_judge(_cfg(tiny_model_dir, data_dir, out, backend="vllm"))
    assert not out.exists() or not any(out.iterdir())
