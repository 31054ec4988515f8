"""The run config, the built-in stages end to end (small sample, tiny models) and the report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ecomrel.config import load_config
from ecomrel.errors import UserError
from ecomrel.pipeline import metrics_path, run_pipeline


def test_config_defaults_and_overrides(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("out: x\nstages: [data]\noptions:\n  judge: {limit: 5}\n")
    cfg = load_config(path, ["options.judge.limit=7", "data.sample.noise=0.2"])
    assert cfg.options["judge"]["limit"] == 7
    assert cfg.data.sample.noise == 0.2
    assert str(cfg.out) == "x"


@pytest.mark.parametrize(
    "text, needle",
    [
        ("out: [1, 2\n", "invalid YAML"),
        ("- a\n", "top level"),
        ("stagez: [x]\n", "stagez"),
        ("data: {sample: {noise: 3}}\n", "data.sample.noise"),
    ],
)
def test_config_errors_name_file_and_field(tmp_path, text, needle):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(UserError) as err:
        load_config(path)
    assert needle in str(err.value) and "bad.yaml" in str(err.value)


def test_demo_command_writes_metrics_table_and_report(tmp_path):
    """`ecomrel demo` end to end on a small sample with the fast stages (LLM stages have their own tests)."""
    from typer.testing import CliRunner

    from ecomrel.cli import app

    out = tmp_path / "demo"
    args = ["demo", "--out", str(out), "--set", "stages=[data,baselines]"]
    args += ["--set", "data.sample.products=400", "--set", "data.sample.queries=80"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    metrics = json.loads(metrics_path(out).read_text())
    assert set(metrics) == {"bm25", "tfidf"}
    assert 0.0 < metrics["bm25"]["ndcg@10"] <= 1.0 and 0.0 <= metrics["tfidf"]["f1_macro"] <= 1.0
    assert "ecomrel results" in result.output and "bm25" in result.output
    assert (out / "eval" / "report.html").exists() and (out / "data" / "splits.parquet").exists()
    # a second run resumes: nothing is recomputed, the same metrics come back
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 0 and "skip (complete, same inputs)" in again.output
    assert json.loads(metrics_path(out).read_text()) == metrics


def test_run_command_reports_bad_config_without_traceback(tmp_path):
    from typer.testing import CliRunner

    from ecomrel.cli import app

    bad = tmp_path / "bad.yaml"
    bad.write_text("stages: [nope]\n")
    result = CliRunner().invoke(app, ["run", str(bad), "--set", f"out={tmp_path / 'r'}"])
    assert result.exit_code == 2 and "unknown stage" in result.output


def test_distill_and_rank_stages_on_a_tiny_student(tmp_path, tiny_bert_base):
    """The demo's distil → ONNX → serve check → rank path, with a tiny random BERT (no judge stage:
    the student learns human grades and labels every pair for the ranker)."""
    pytest.importorskip("sentence_transformers")
    pytest.importorskip("onnxruntime")
    pytest.importorskip("lightgbm")
    base = tiny_bert_base(tmp_path / "bert")
    cfg = load_config(
        None,
        [
            f"out={tmp_path / 'run'}",
            "stages=[data, distill, export, serve, rank]",
            "data.sample.products=200",
            "data.sample.queries=40",
            "options.distill.teacher=none",
            f"options.distill.train={{base_model: {base}, num_threads: 1, "
            "training_args: {max_steps: 4, per_device_train_batch_size: 8}}",
            "options.rank.config={tradeoff: {alphas: [10.0], betas: [0.6], blend_weights: [0.5]}}",
        ],
    )
    metrics = run_pipeline(cfg)
    run = tmp_path / "run"
    for f in ("distill/student_scores.parquet", "export/onnx/model_int8.onnx", "eval/report.html"):
        assert (run / f).exists(), f
    assert 0 <= metrics["student_human_only"]["ndcg@10"] <= 1  # no teacher: named so
    assert "student_distilled" not in metrics
    # export: variants measured against torch fp32 on the run's dev pairs; serve picked one of them
    manifest = json.loads((run / "export" / "onnx" / "variants.json").read_text())
    assert set(manifest["variants"]) == {"torch-fp32", "onnx-fp32", "onnx-int8"}
    assert manifest["pairs"]["source"] == str(run / "data")
    assert {"export:torch-fp32", "export:onnx-fp32", "export:onnx-int8"} <= set(metrics)
    assert metrics["export:onnx-fp32"]["spearman"] > 0.99
    served = [k for k in metrics if k.startswith("serve:")]
    assert len(served) == 1 and served[0].removeprefix("serve:") in manifest["variants"]
    assert metrics[served[0]]["queries"] >= 1
    assert {"rank:engagement_only", "rank:best_blend", "rank:content_only"} <= set(metrics)
    import pandas as pd

    scores = pd.read_parquet(run / "distill" / "student_scores.parquet")
    judged = pd.read_parquet(run / "data" / "judgments.parquet")
    assert len(scores) == len(judged)  # the student labels every judged pair
    # graded by cut points tuned on its dev predictions, saved beside the model for predict/serve
    row = metrics["student_human_only"]
    assert "f1_macro_argmax" in row and row["dev_pairs"] > 0
    model_dir = Path((run / "distill" / "primary.txt").read_text().strip())
    assert (model_dir / "decisions.json").exists()
    carried = run / "export" / "onnx" / "decisions.json"  # the export folder serves on its own
    assert carried.read_text() == (model_dir / "decisions.json").read_text()
    assert set(row["segments"]) >= {"kind", "band"}  # the sample's queries have kinds and frequencies


def test_student_training_pairs_start_with_the_teacher_pairs(tmp_path):
    """Every teacher-scored train pair is trained on; the rest is filled up to the cap from train."""
    from types import SimpleNamespace

    import pandas as pd

    from ecomrel.data.sample import write_sample
    from ecomrel.data.schema import Dataset
    from ecomrel.pipeline.stages.distill import training_pairs

    write_sample(tmp_path / "data", n_products=200, n_queries=40, seed=0)
    ds = Dataset.load(tmp_path / "data")
    train = ds.pairs("train")
    teacher = train.sample(7, random_state=1)[["query_id", "product_id"]]
    teacher = pd.concat([teacher, ds.pairs("test").head(3)[["query_id", "product_id"]]])  # not train
    teacher.to_parquet(tmp_path / "teacher.parquet")
    ctx = SimpleNamespace(data_dir=tmp_path / "data", stage_dir=tmp_path / "stage", seed=0)  # not made yet
    pairs = pd.read_parquet(training_pairs(ctx, tmp_path / "teacher.parquet", cap=20))
    assert len(pairs) == 20 and not pairs.duplicated().any()
    keys = set(map(tuple, pairs[["query_id", "product_id"]].to_numpy()))
    assert set(map(tuple, teacher.head(7).astype(str).to_numpy())) <= keys
    assert keys <= set(map(tuple, train[["query_id", "product_id"]].astype(str).to_numpy()))
